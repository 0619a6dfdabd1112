/**
 * The `functions` bench (issue 10, part 4): every Lambda's bundle as the stack builds it, its
 * size minified and gzipped, its biggest contributors from the esbuild metafile, and its cold
 * init time, measured as the median of several fresh Node processes each loading the bundle
 * once (module scope: config validation, SDK clients, Powertools), the work Lambda's `Init
 * Duration` covers besides starting the runtime itself.
 *
 * The build mirrors infra/constructs/orchestrator-function.ts (esbuild, minified, CJS,
 * `@aws-sdk/*` external because the Lambda runtime ships SDK v3), so the sizes are the
 * deployed ones give or take the source map, which is shipped beside the bundle, not in it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

const ROOT = join(__dirname, '..');
const OUT = join(ROOT, '.local', 'bench', 'functions');

/** Targets from DESIGN §7. */
export const BUNDLE_TARGET_BYTES = 250 * 1024;
export const COLD_INIT_TARGET_MS = 150;

export interface FunctionEntry {
  readonly name: string;
  readonly entry: string;
}

/** Every Lambda the stack deploys: `functions/<name>/handler.ts`, and the reference agents. */
export function functionEntries(root = ROOT): FunctionEntry[] {
  const dir = join(root, 'functions');
  const entries = readdirSync(dir)
    .filter((name) => {
      try {
        return statSync(join(dir, name, 'handler.ts')).isFile();
      } catch {
        return false;
      }
    })
    .sort()
    .map((name) => ({ name, entry: join(dir, name, 'handler.ts') }));
  return [...entries, { name: 'reference-agent', entry: join(root, 'agents', 'reference', 'handler.ts') }];
}

export interface BundleReport {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly gzip_bytes: number;
  /** The biggest inputs by bytes in the output, grouped by package (or first-party folder). */
  readonly top: readonly { readonly source: string; readonly bytes: number }[];
  /**
   * The `@aws-sdk/*` packages the bundle requires, sorted. They stay external (Lambda's runtime
   * has them) and each is loaded at cold start, used or not, so this list is part of cold init.
   */
  readonly aws_sdk: readonly string[];
}

/** Builds one function as the stack does and reads its metafile. */
export async function bundleFunction(fn: FunctionEntry, outDir = OUT): Promise<BundleReport> {
  const dir = join(outDir, fn.name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'index.js');
  const result = await build({
    entryPoints: [fn.entry],
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@aws-sdk/*'],
    metafile: true,
    logLevel: 'silent',
  });
  const code = readFileSync(file);
  return {
    name: fn.name,
    file,
    bytes: code.length,
    gzip_bytes: gzipSync(code).length,
    top: contributors(result.metafile, 5),
    aws_sdk: externalSdkPackages(result.metafile),
  };
}

/** The external `@aws-sdk/*` packages a metafile's inputs import, sorted. */
export function externalSdkPackages(metafile: Metafile): string[] {
  const packages = new Set<string>();
  for (const input of Object.values(metafile.inputs))
    for (const imported of input.imports)
      if (imported.external && imported.path.startsWith('@aws-sdk/')) packages.add(imported.path);
  return [...packages].sort();
}

/** Bytes in the output per package (`node_modules/<pkg>`) or first-party folder, largest first. */
export function contributors(metafile: Metafile, limit: number): { source: string; bytes: number }[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const source = sourceOf(input);
      totals.set(source, (totals.get(source) ?? 0) + bytesInOutput);
    }
  }
  return [...totals.entries()]
    .map(([source, bytes]) => ({ source, bytes }))
    .sort((a, b) => b.bytes - a.bytes || (a.source < b.source ? -1 : 1))
    .slice(0, limit);
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg`; `functions/core/x.ts` → `functions/core`. */
export function sourceOf(input: string): string {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0) {
    const first = parts[at + 1] ?? '';
    return first.startsWith('@') ? `${first}/${parts[at + 2] ?? ''}` : first;
  }
  return parts.slice(0, 2).join('/');
}

/**
 * Placeholder configuration for a function's cold start: every variable the handlers' config
 * schemas read, with values of the right shape. Nothing is called at init, so nothing answers.
 */
export const INIT_ENVIRONMENT: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TABLE_NAME: 'bench-table',
  STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
  JWT_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench',
  AGENT_QUEUE_URLS: '{"net-1":"https://sqs.us-east-1.amazonaws.com/000000000000/net"}',
  AGENT_DLQS:
    '{"network":{"url":"https://sqs.us-east-1.amazonaws.com/000000000000/net-dlq","arn":"arn:aws:sqs:us-east-1:000000000000:net-dlq"}}',
  COMPENSATION_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/compensation',
  COMPENSATION_DLQ_ARN: 'arn:aws:sqs:us-east-1:000000000000:compensation',
  EVENT_BUS_NAME: 'bench-bus',
  WEBSOCKET_URL: 'wss://bench.execute-api.us-east-1.amazonaws.com/v1',
  WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://bench.execute-api.us-east-1.amazonaws.com/v1',
  AGENT_ID: 'reference-network',
  AGENT_CATEGORY: 'network',
  POWERTOOLS_SERVICE_NAME: 'master-orchestrator',
  POWERTOOLS_METRICS_NAMESPACE: 'MasterOrchestrator',
  LOG_LEVEL: 'ERROR',
};

/**
 * Loads `file` once in a fresh Node process, `runs` times, and returns each load's time in ms
 * (from just before `require` to just after), or the error of the first failed load.
 */
export function coldInit(
  file: string,
  runs: number,
  env = INIT_ENVIRONMENT,
): { samples: number[]; error?: string } {
  const script = [
    "const { performance } = require('node:perf_hooks');",
    'const t0 = performance.now();',
    `require(${JSON.stringify(file)});`,
    'process.stdout.write(String(performance.now() - t0));',
  ].join('\n');
  const samples: number[] = [];
  for (let k = 0; k < runs; k++) {
    const child = spawnSync(process.execPath, ['-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (child.status !== 0)
      return { samples, error: (child.stderr || child.error?.message || 'failed').split('\n')[0] };
    samples.push(Number(child.stdout));
  }
  return { samples };
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const displayPath = (file: string) => relative(ROOT, file);
