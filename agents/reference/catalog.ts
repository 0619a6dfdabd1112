/**
 * The reference agents (contract C8): one simulated agent per C7 category. The stack deploys
 * one queue and one Lambda per entry; `npm start` registers each in the agent registry.
 */
import { CATEGORIES, type Category } from '#core/wire';

export interface ReferenceAgentEntry {
  /** `reference-<category>`. */
  readonly agent_id: string;
  readonly category: Category;
}

/** `agent_type` the reference agents register with. */
export const REFERENCE_AGENT_TYPE = 'reference';

/** `max_concurrency` the reference agents register with. */
export const REFERENCE_AGENT_MAX_CONCURRENCY = 4;

export const referenceAgentId = (category: Category): string => `reference-${category}`;

export const REFERENCE_AGENT_CATALOG: readonly ReferenceAgentEntry[] = CATEGORIES.map((category) => ({
  agent_id: referenceAgentId(category),
  category,
}));
