/**
 * Boots the offline runtime from the real `cdk.out`, for one test file: synthesizes
 * first when the assembly is missing or its inputs changed (the same cache as
 * `npm start`, `.local/synth-hash`, with a lock so parallel test files synthesize
 * once), then starts the runtime on a free port. Log lines are collected, not printed.
 */
import { resolve } from 'node:path';
import { type Runtime, startRuntime } from '#local/runtime/runtime';
import { synthesize } from '#local/runtime/synth';
import type { Provider } from '#local/runtime/types';

export const PROJECT_DIR = resolve(__dirname, '..', '..', '..');
/** Synth (about 8 s when stale) plus the JVM's boot, with room for a busy CI machine. */
export const BOOT_TIMEOUT_MS = 120_000;

export interface BootedRuntime {
  readonly runtime: Runtime;
  readonly logs: string[];
}

export async function bootRuntime(options: { providers?: readonly Provider[] } = {}): Promise<BootedRuntime> {
  const logs: string[] = [];
  const log = (line: string): void => {
    logs.push(line);
  };
  const { assemblyDir } = await synthesize({ projectDir: PROJECT_DIR, log });
  const runtime = await startRuntime({ port: 0, assemblyDir, log, providers: options.providers });
  return { runtime, logs };
}
