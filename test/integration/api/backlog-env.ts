/**
 * Imported for its side effect, before ./harness: the backpressure tests get a table of their
 * own (the backlog is table-wide, and other test files fill the shared table's backlog at the
 * same time) and a small backlog bound. The harness and the handlers read these variables
 * when they load; backpressure.test.ts creates the table before loading the handlers.
 */
import { randomUUID } from 'node:crypto';

/** The variables this module set and their values before, for `restoreBacklogEnv`. */
const previous: Record<string, string | undefined> = {};

export const BACKLOG_TEST_ENV = {
  TABLE_NAME: `master-orchestrator-it-backlog-${randomUUID().slice(0, 8)}`,
  MAX_BACKLOG_ISSUES: '3',
  BACKLOG_RETRY_AFTER_SECONDS: '17',
  // Count on every request: the tests drain the backlog and expect the next request to see it.
  BACKLOG_COUNT_CACHE_SECONDS: '0',
} as const;

for (const [name, value] of Object.entries(BACKLOG_TEST_ENV)) {
  previous[name] = process.env[name];
  process.env[name] = value;
}

export function restoreBacklogEnv(): void {
  for (const [name, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
