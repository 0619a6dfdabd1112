/**
 * Backpressure on new work (POST issues, POST workflows): while the backlog (GSI1 `BACKLOG`,
 * assigned issues not yet resolved) holds `maxBacklog` issues or more, new requests are
 * refused with 429 BACKLOG_FULL and `Retry-After`, before anything is written.
 *
 * The count is cached in the warm function for `cacheMs`, and concurrent requests in one
 * container share one count in flight, so a burst costs one bounded Query per container per
 * window (see WorkflowRepository.countBacklog). The trade-off: inside one window a container
 * admits new work without recounting, so the backlog can overshoot the bound by what arrives
 * in one window across all warm containers, and a drained backlog is noticed up to one window
 * late. The bound is a brake, not an exact quota.
 *
 * Where it runs: inside the route implementation, after authentication, validation and the
 * idempotency middleware. An idempotent replay is answered by that middleware from its stored
 * record before the implementation runs, so it gets its 202, never a 429; a refused request's
 * idempotency lock is released by the middleware's onError, so its retry starts afresh.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type * as z from 'zod';
import type { BacklogEnv } from '#shared/config';
import { BacklogFullError } from '#shared/errors';
import { logger, metrics } from '#shared/powertools';

export interface BacklogGateOptions {
  /** Refuse new work at or above this many backlog issues (MAX_BACKLOG_ISSUES). */
  readonly maxBacklog: number;
  /** What `Retry-After` says (BACKLOG_RETRY_AFTER_SECONDS). */
  readonly retryAfterSeconds: number;
  /** How long a count is reused (BACKLOG_COUNT_CACHE_SECONDS × 1000); 0 counts every time. */
  readonly cacheMs: number;
  /** Counts the backlog up to `atLeast` (WorkflowRepository.countBacklog). */
  readonly countBacklog: (atLeast: number) => Promise<number>;
  /** Milliseconds of a monotonic clock; defaults to `performance.now`. */
  readonly now?: () => number;
}

export interface BacklogGate {
  /**
   * Resolves when new work may be written; throws BacklogFullError otherwise.
   * `alreadyAccepted` is asked only when the backlog is full: a retry of a request whose
   * work was already stored (its workflow exists) is let through to finish, since refusing
   * it would leave accepted work unstarted.
   */
  admit(alreadyAccepted?: () => Promise<boolean>): Promise<void>;
}

/**
 * @example
 * const backlog = createBacklogGate({
 *   maxBacklog: 5000, retryAfterSeconds: 30, cacheMs: 5000,
 *   countBacklog: (atLeast) => workflows.countBacklog(atLeast),
 * });
 * await backlog.admit(() => workflows.workflowExists(workflow_id)); // throws 429 when full
 */
export function createBacklogGate(options: BacklogGateOptions): BacklogGate {
  const now = options.now ?? (() => performance.now());
  let cached: { count: number; at: number } | undefined;
  let inFlight: Promise<number> | undefined;

  const count = async (): Promise<number> => {
    if (cached && now() - cached.at < options.cacheMs) return cached.count;
    inFlight ??= options
      .countBacklog(options.maxBacklog)
      .then((counted) => {
        cached = { count: counted, at: now() };
        return counted;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    admit: async (alreadyAccepted) => {
      const backlog = await count();
      if (backlog < options.maxBacklog) return;
      if (alreadyAccepted && (await alreadyAccepted())) return;
      metrics.addMetric('BacklogRejected', MetricUnit.Count, 1);
      logger.warn('backlog full; refusing new work', { backlog, max_backlog_issues: options.maxBacklog });
      throw new BacklogFullError(options.maxBacklog, options.retryAfterSeconds);
    },
  };
}

/**
 * The gate as POST issues and POST workflows configure it: from their validated `BacklogEnv`,
 * counting with the workflow repository.
 * @example
 * const backlog = backlogGateFromEnv(config, workflows);
 */
export function backlogGateFromEnv(
  env: { readonly [K in keyof typeof BacklogEnv]: z.output<(typeof BacklogEnv)[K]> },
  workflows: { countBacklog(atLeast: number): Promise<number> },
): BacklogGate {
  return createBacklogGate({
    maxBacklog: env.MAX_BACKLOG_ISSUES,
    retryAfterSeconds: env.BACKLOG_RETRY_AFTER_SECONDS,
    cacheMs: env.BACKLOG_COUNT_CACHE_SECONDS * 1000,
    countBacklog: (atLeast) => workflows.countBacklog(atLeast),
  });
}
