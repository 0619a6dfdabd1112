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
