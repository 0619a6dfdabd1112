/**
 * `npm run chaos`: the fault-injection suite of issue 7 against the offline runtime (or the
 * stack named by `E2E_OUTPUTS=<outputs file>`). Progress on stderr; on stdout a table and one
 * C1 JSON line, `{"bench":"chaos","n":<plans>,...}`. Exits 1 when a target is missed.
 *
 *   npm run -s chaos
 *   npm run -s chaos -- --seed 7 --plans 50 --concurrency 6 --time-limit 10m
 *   npm run -s chaos -- --min-steps 5 --max-steps 40
 *
 * See bench/README.md, "Chaos".
 */
import { type ChaosOptions, type ChaosReport, runChaos } from './chaos';
import { FAULT_CLASSES } from './plans';

export const DEFAULTS = {
  seed: 20_261_124,
  plans: 200,
  concurrency: 8,
  minSteps: 5,
  maxSteps: 40,
  timeLimitMs: 15 * 60_000,
} as const;

/** `15m`, `90s`, `500ms` or bare seconds. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (try 15m, 90s)`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return Math.round(value * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']);
}

/** `--name value` or `--name=value`. */
export function parseArgs(argv: readonly string[]): Omit<ChaosOptions, 'log'> {
  const values = new Map<string, string>();
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++k];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    values.set(name, value);
  }
  const known = new Set(['seed', 'plans', 'concurrency', 'min-steps', 'max-steps', 'time-limit']);
  for (const name of values.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}`);
  const int = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return value;
  };
  const minSteps = int('min-steps', DEFAULTS.minSteps, 2);
  const maxSteps = int('max-steps', DEFAULTS.maxSteps, minSteps);
  return {
    seed: int('seed', DEFAULTS.seed, 0),
    plans: int('plans', DEFAULTS.plans, 1),
    concurrency: int('concurrency', DEFAULTS.concurrency, 1),
    minSteps,
    maxSteps,
    timeLimitMs: values.has('time-limit')
      ? parseDurationMs(values.get('time-limit') as string)
      : DEFAULTS.timeLimitMs,
  };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: readonly string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join(
    '\n',
  );
}

/** The human table: run, targets, classes, problems. */
export function formatReport(report: ChaosReport): string {
  const out: string[] = [];
  out.push(
    `chaos: seed ${report.seed}, ${report.run} of ${report.plans} plans run, wall time ${(report.wall_ms / 1000).toFixed(1)} s, median plan ${(report.median_plan_ms / 1000).toFixed(1)} s`,
    '',
    table([
      ['target', 'measured', 'target', 'met'],
      ...report.targets.map((t) => [t.name, t.value, t.target, t.met ? 'yes' : 'NO']),
    ]),
    '',
    table([
      ['fault class', 'planned', 'run', 'as expected', 'note'],
      ...FAULT_CLASSES.map((fault) => {
        const c = report.classes[fault];
        return [
          fault,
          String(c.planned),
          String(c.run),
          String(c.as_expected),
          c.not_run ? `not run: ${c.not_run}` : (c.note ?? ''),
        ];
      }),
    ]),
    '',
    `rollback failed as planned (fail_rollback): ${report.rollback_failed.ok}/${report.rollback_failed.total}; ` +
      `lost = ${report.lost.in_flight_steps} steps left in flight (not in a DLQ) + ${report.lost.poison_sent - report.lost.poison_found} of ${report.lost.poison_sent} poison messages missing from the DLQs; ` +
      `${report.lost.dead_lettered_task_messages} task messages dead-lettered; ${report.manual_interventions_cleaned} manual-intervention messages cleaned`,
  );
  if (report.problems.length > 0) {
    out.push(
      '',
      `problems (${report.problems.length}):`,
      ...report.problems.slice(0, 50).map((p) => `  - ${p}`),
    );
  }
  return out.join('\n');
}

/** The C1 line: `bench`, `n`, `median_ms` first. */
export function jsonLine(report: ChaosReport): string {
  return JSON.stringify({
    bench: 'chaos',
    n: report.run,
    median_ms: report.median_plan_ms,
    seed: report.seed,
    plans: report.plans,
    wall_ms: report.wall_ms,
    completion_rate: report.completion.rate,
    rollback_success_rate: report.rollback.rate,
    rollback_failed: report.rollback_failed,
    messages_lost: report.lost.total,
    lost: report.lost,
    non_terminal: report.non_terminal,
    issues_unrouted: report.issues.unrouted,
    issues: report.issues.total,
    errored: report.errored,
    classes: report.classes,
    met: report.met,
  });
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  process.stderr.write(
    `chaos: seed ${options.seed}, ${options.plans} plans, concurrency ${options.concurrency}, ${options.minSteps}-${options.maxSteps} steps, time limit ${options.timeLimitMs / 1000} s\n`,
  );
  const report = await runChaos({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${formatReport(report)}\n${jsonLine(report)}\n`);
  process.exitCode = report.met ? 0 : 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 2;
  });
}
