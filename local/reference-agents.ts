/**
 * `npm start`'s last boot step: registers the reference agents (contract C8) in the agent
 * registry through the REST API, so routing can assign work to them right away.
 */
import {
  REFERENCE_AGENT_CATALOG,
  REFERENCE_AGENT_MAX_CONCURRENCY,
  REFERENCE_AGENT_TYPE,
  type ReferenceAgentEntry,
} from '#agents/reference/catalog';

export interface RegistrationResult {
  readonly registered: readonly string[];
  /** `<agent_id>: <why>` for each agent that was not registered. */
  readonly failures: readonly string[];
}

/** The POST `agents` body for one reference agent. */
export function registrationBody(entry: ReferenceAgentEntry): Record<string, unknown> {
  return {
    agent_id: entry.agent_id,
    agent_type: REFERENCE_AGENT_TYPE,
    categories: [entry.category],
    max_concurrency: REFERENCE_AGENT_MAX_CONCURRENCY,
  };
}

/**
 * POSTs each reference agent to `<restApiUrl>api/orchestrator/agents` with `token`. Never
 * throws: a failure is reported in the result, and the others are still tried.
 */
export async function registerReferenceAgents(
  restApiUrl: string,
  token: string,
  catalog: readonly ReferenceAgentEntry[] = REFERENCE_AGENT_CATALOG,
): Promise<RegistrationResult> {
  const url = `${restApiUrl}api/orchestrator/agents`;
  const results = await Promise.all(
    catalog.map(async (entry): Promise<{ agent_id: string; failure?: string }> => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(registrationBody(entry)),
          signal: AbortSignal.timeout(30_000),
        });
        if (response.ok) return { agent_id: entry.agent_id };
        const text = (await response.text()).slice(0, 200);
        return { agent_id: entry.agent_id, failure: `HTTP ${response.status} ${text}` };
      } catch (error) {
        return { agent_id: entry.agent_id, failure: (error as Error).message };
      }
    }),
  );
  return {
    registered: results.filter((r) => r.failure === undefined).map((r) => r.agent_id),
    failures: results.filter((r) => r.failure !== undefined).map((r) => `${r.agent_id}: ${r.failure}`),
  };
}

/** One line for the log and the banner. */
export function describeRegistration(result: RegistrationResult, total: number): string {
  const head = `${result.registered.length}/${total} reference agents registered (reference-<category>)`;
  return result.failures.length === 0 ? head : `${head}; failed: ${result.failures.join('; ')}`;
}
