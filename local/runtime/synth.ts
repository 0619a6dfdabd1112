/**
 * Cached synthesis: `cdk synth --quiet` (the project's own CLI) into `cdk.out`, skipped when a hash of the
 * inputs (functions/, infra/, statemachines/, cdk.json, package-lock.json and the
 * context arguments) matches the one stored in `.local/synth-hash` and the assembly is
 * still there. `npm start` and the runtime's integration tests share it.
 *
 * Several processes may ask at once (Jest runs test files in parallel, a developer may
 * run `npm start` meanwhile), so a lock file in `.local/` lets one synthesize while the
 * others wait and then find the cache fresh. The CDK CLI's own lock ("Another CLI is
 * currently synthing") is retried too.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';

export const SYNTH_INPUTS = [
  'functions',
  'agents',
  'dashboard',
  'infra',
  'statemachines',
  'cdk.json',
  'package-lock.json',
] as const;
/** Files synthesis itself writes (the dashboard page): hashing them would make every synth stale the next. */
const GENERATED_FILE = /\.generated\.js$/;
const SKIPPED_DIRECTORIES = new Set(['node_modules', '.git', 'cdk.out', 'coverage']);
const LOCK_STALE_MS = 5 * 60_000;
const LOCK_WAIT_MS = 3 * 60_000;
const CLI_LOCK_ATTEMPTS = 30;
const SYNTH_TIMEOUT_MS = 5 * 60_000;

/** Synthesis failed; the message carries the CLI's last output lines. */
export class SynthError extends Error {
  override readonly name = 'SynthError';
}

export interface SynthOptions {
  /** The project root (where cdk.json is). */
  readonly projectDir: string;
  /** @default 'cdk.out' (relative to projectDir) */
  readonly outDir?: string;
  /** `-c key=value` pairs for the CLI. @default {} */
  readonly context?: Readonly<Record<string, string>>;
  /** Synthesize even when the cache is fresh. @default false */
  readonly force?: boolean;
  /** Aborting kills the CDK CLI and rejects. @default none */
  readonly signal?: AbortSignal;
  readonly log?: (message: string) => void;
}

export interface SynthResult {
  readonly cached: boolean;
  readonly durationMs: number;
  readonly hash: string;
  /** Absolute path of the cloud assembly. */
  readonly assemblyDir: string;
}

/**
 * A SHA-256 over the synth inputs' paths and contents, and the context.
 *
 * @example
 * hashSynthInputs('/work/main', { websocket: 'false' }); // '3f1c…'
 */
export function hashSynthInputs(projectDir: string, context: Readonly<Record<string, string>> = {}): string {
  const hash = createHash('sha256');
  const files: string[] = [];
  for (const input of SYNTH_INPUTS) collectFiles(join(projectDir, input), files);
  for (const file of files.sort()) {
    hash.update(`${relative(projectDir, file)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  const contextLine = Object.entries(context)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
  hash.update(`context\0${contextLine}`);
  return hash.digest('hex');
}

function collectFiles(path: string, into: string[]): void {
  if (!existsSync(path)) return;
  const stats = statSync(path);
  if (stats.isFile()) {
    if (!GENERATED_FILE.test(path)) into.push(path);
    return;
  }
  if (!stats.isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && SKIPPED_DIRECTORIES.has(entry.name)) continue;
    collectFiles(join(path, entry.name), into);
  }
}

/**
 * Synthesizes unless the cache is fresh.
 *
 * @throws SynthError when the CDK CLI fails or the lock is never released
 * @example
 * const { cached, durationMs, assemblyDir } = await synthesize({ projectDir: process.cwd() });
 */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  const startedAt = performance.now();
  const { projectDir, context = {}, log = () => {} } = options;
  const assemblyDir = join(projectDir, options.outDir ?? 'cdk.out');
  const stateDir = join(projectDir, '.local');
  const hashFile = join(stateDir, 'synth-hash');
  mkdirSync(stateDir, { recursive: true });

  const isFresh = (hash: string): boolean =>
    !options.force &&
    existsSync(join(assemblyDir, 'manifest.json')) &&
    existsSync(hashFile) &&
    readFileSync(hashFile, 'utf8').trim() === hash;
  const done = (cached: boolean, hash: string): SynthResult => ({
    cached,
    hash,
    assemblyDir,
    durationMs: Math.round(performance.now() - startedAt),
  });

  const before = hashSynthInputs(projectDir, context);
  if (isFresh(before)) return done(true, before);

  const release = await acquireLock(join(stateDir, 'synth.lock'), log);
  try {
    // Another process may have synthesized while this one waited.
    const hash = hashSynthInputs(projectDir, context);
    if (isFresh(hash)) return done(true, hash);
    rmSync(hashFile, { force: true });
    await runCdkSynth(projectDir, assemblyDir, context, log, options.signal);
    writeFileSync(hashFile, `${hash}\n`);
    return done(false, hash);
  } finally {
    release();
  }
}

async function acquireLock(file: string, log: (message: string) => void): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (lockIsStale(file)) {
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new SynthError(
        `${file} is still held after ${LOCK_WAIT_MS} ms; remove it if no synth is running`,
      );
    }
    if (!announced) {
      log(`synth: waiting for another synthesis to finish (${file})`);
      announced = true;
    }
    await sleep(250);
  }
}

function lockIsStale(file: string): boolean {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Date.now() - statSync(file).mtimeMs > LOCK_STALE_MS) return true;
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // ESRCH: the holder is gone. ENOENT: the lock was just released.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function runCdkSynth(
  projectDir: string,
  assemblyDir: string,
  context: Readonly<Record<string, string>>,
  log: (message: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  // The project's own CLI, run directly: `npx cdk` would fetch one from the registry
  // when it is missing.
  const cli = join(projectDir, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  if (!existsSync(cli)) throw new SynthError(`the CDK CLI is not installed (${cli} is missing): run npm ci`);
  const args = [
    cli,
    'synth',
    '--quiet',
    '--no-notices',
    '--output',
    assemblyDir,
    ...Object.entries(context).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
  ];
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const { code, output } = await run(process.execPath, args, projectDir, signal);
    if (code === 0) return;
    const locked = /Another CLI .* is currently/i.test(output);
    if (locked && attempt < CLI_LOCK_ATTEMPTS) {
      if (attempt === 1) log('synth: another CDK CLI is synthesizing to the same folder; retrying');
      await sleep(1_000);
      continue;
    }
    const tail = output.trim().split('\n').slice(-30).join('\n');
    throw new SynthError(`cdk ${args.slice(1).join(' ')} failed (exit ${code}):\n${tail}`);
  }
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  signal: AbortSignal | undefined,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      signal,
      env: {
        ...process.env,
        // No calls home: the version check, notices and telemetry would need the network,
        // and the CLI's default-account lookup would otherwise probe the EC2 metadata address.
        CDK_DISABLE_VERSION_CHECK: 'true',
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        AWS_EC2_METADATA_DISABLED: process.env.AWS_EC2_METADATA_DISABLED ?? 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGTERM'), SYNTH_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      if (error.name === 'AbortError') reject(new SynthError('synthesis was cancelled', { cause: error }));
      else reject(new SynthError(`could not run ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
