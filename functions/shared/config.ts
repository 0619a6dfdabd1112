/**
 * Configuration from the environment, read once when a module loads and validated
 * with zod, so a misconfigured function fails its cold start with one clear message
 * instead of failing some request later. Business logic never reads `process.env`.
 */
import * as z from 'zod';

/** Issuer and audience every token carries unless JWT_ISSUER / JWT_AUDIENCE say otherwise. */
export const DEFAULT_JWT_ISSUER = 'master-orchestrator';
export const DEFAULT_JWT_AUDIENCE = 'master-orchestrator-api';

const required = z.string().trim().min(1);

/** The single DynamoDB table (see table-design.ts). */
export const TableEnv = { TABLE_NAME: required } as const;

/** The JWT signing key in Secrets Manager, and the claims every token must carry. */
export const JwtEnv = {
  JWT_SECRET_ARN: required,
  JWT_ISSUER: required.default(DEFAULT_JWT_ISSUER),
  JWT_AUDIENCE: required.default(DEFAULT_JWT_AUDIENCE),
} as const;

/** The recovery state machine the API starts executions of (intake, workflows). */
export const StateMachineEnv = { STATE_MACHINE_ARN: required } as const;

/** A whole number from the environment, at least `min`, or `fallback` when unset. */
const wholeNumber = (min: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min))
    .optional()
    .transform((value) => value ?? fallback);

/** Default of MAX_BACKLOG_ISSUES. */
export const DEFAULT_MAX_BACKLOG_ISSUES = 5000;
/** Default of BACKLOG_RETRY_AFTER_SECONDS. */
export const DEFAULT_BACKLOG_RETRY_AFTER_SECONDS = 30;
/** Default of BACKLOG_COUNT_CACHE_SECONDS. */
export const DEFAULT_BACKLOG_COUNT_CACHE_SECONDS = 5;

/**
 * Backpressure on POST issues and POST workflows (see backpressure.ts): new work is refused
 * with 429 BACKLOG_FULL while the backlog holds MAX_BACKLOG_ISSUES issues or more, with
 * `Retry-After: BACKLOG_RETRY_AFTER_SECONDS`. A warm function reuses its last count for
 * BACKLOG_COUNT_CACHE_SECONDS (0: count on every request).
 */
export const BacklogEnv = {
  MAX_BACKLOG_ISSUES: wholeNumber(1, DEFAULT_MAX_BACKLOG_ISSUES),
  BACKLOG_RETRY_AFTER_SECONDS: wholeNumber(1, DEFAULT_BACKLOG_RETRY_AFTER_SECONDS),
  BACKLOG_COUNT_CACHE_SECONDS: wholeNumber(0, DEFAULT_BACKLOG_COUNT_CACHE_SECONDS),
} as const;

/** The health sweep's timings: defaults and the lowest values it accepts (the stack checks the same at synth). */
export const SWEEP_DEFAULTS = { agentHeartbeatStaleSeconds: 90, stalledAfterSeconds: 900 } as const;
export const SWEEP_MINIMUMS = { agentHeartbeatStaleSeconds: 10, stalledAfterSeconds: 60 } as const;

/**
 * The health sweep (functions/sweep): an agent whose last heartbeat is
 * AGENT_HEARTBEAT_STALE_SECONDS old is marked UNHEALTHY; a workflow at work with no change for
 * STALLED_AFTER_SECONDS is reported stalled.
 */
export const SweepTimingEnv = {
  AGENT_HEARTBEAT_STALE_SECONDS: wholeNumber(
    SWEEP_MINIMUMS.agentHeartbeatStaleSeconds,
    SWEEP_DEFAULTS.agentHeartbeatStaleSeconds,
  ),
  STALLED_AFTER_SECONDS: wholeNumber(SWEEP_MINIMUMS.stalledAfterSeconds, SWEEP_DEFAULTS.stalledAfterSeconds),
} as const;

const QueueRef = z.object({ url: z.url(), arn: required }).strict();

/**
 * The dead-letter queues GET dlq and POST dlq/redrive work on: each agent queue's DLQ by the
 * queue's category (JSON `{"<category>": {"url", "arn"}}`), and the compensation queue.
 */
export const DeadLetterEnv = {
  AGENT_DLQS: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().min(1), QueueRef)),
  COMPENSATION_DLQ_URL: z.url(),
  COMPENSATION_DLQ_ARN: required,
} as const;

/** Browser origins allowed to read API answers, comma separated; unset means none. */
export const CorsEnv = {
  CORS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((list) =>
      (list ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    ),
} as const;

/** What Powertools reads; validated here so a typo fails the cold start, not a log line. */
export const PowertoolsEnv = {
  LOG_LEVEL: z
    .string()
    .transform((level) => level.toUpperCase())
    .pipe(z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'])),
  POWERTOOLS_SERVICE_NAME: required,
  POWERTOOLS_METRICS_NAMESPACE: required,
} as const;

/**
 * Validates the environment against `schema` and returns the typed values.
 * @throws Error naming every missing or invalid variable at once.
 * @example
 * const config = loadConfig(z.object({ ...TableEnv, ...JwtEnv }));
 * config.TABLE_NAME; // string, guaranteed non-empty
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    return env[name] === undefined ? `${name} is missing` : `${name} is invalid (${issue.message})`;
  });
  throw new Error(`invalid configuration: ${[...new Set(problems)].join('; ')}`);
}
