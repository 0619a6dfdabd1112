/**
 * The single-table design: key names, index names and key builders. One source for
 * the CDK table construct, the DynamoDB repository and the integration test setup.
 * Access patterns are documented in infra/README.md.
 */
export const TABLE_KEYS = { partitionKey: 'PK', sortKey: 'SK' } as const;

/** Sparse GSI: only items that set GSI1PK appear in it. */
export const GSI1 = { indexName: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' } as const;

/** Epoch seconds; DynamoDB deletes the item some time after it passes. */
export const TTL_ATTRIBUTE = 'ttl';

/** Optimistic-locking counter on mutable items (agents, workflows). */
export const VERSION_ATTRIBUTE = 'version';

export const keys = {
  workflow: (workflowId: string) => ({ PK: `WF#${workflowId}`, SK: 'META' }),
  /**
   * What a workflow was planned and assigned with (plan figures, assignment summary, the
   * request's context), written once beside META. It is kept out of META on purpose: every
   * step transition updates META in its transaction, and DynamoDB bills an update by the
   * whole item's size, so a few KB of plan there cost every step 2 WRU per KB.
   */
  workflowDetail: (workflowId: string) => ({ PK: `WF#${workflowId}`, SK: 'DETAIL' }),
  workflowIssue: (workflowId: string, issueId: string) => ({
    PK: `WF#${workflowId}`,
    SK: `ISSUE#${issueId}`,
  }),
  workflowStep: (workflowId: string, stepId: string) => ({ PK: `WF#${workflowId}`, SK: `STEP#${stepId}` }),
  agent: (agentId: string) => ({ PK: `AGENT#${agentId}`, SK: 'META' }),
  /** A progress-socket connection: who (role, sub) and what it subscribed to. */
  connection: (connectionId: string) => ({ PK: `CONN#${connectionId}`, SK: 'META' }),
  /** One subscription; a workflow's subscribers (and `*`'s) are one partition each. */
  subscription: (workflowId: string, connectionId: string) => ({
    PK: `SUBS#${workflowId}`,
    SK: `CONN#${connectionId}`,
  }),
} as const;

/** GSI1 partitions. Each is a list the API reads in one Query. */
export const GSI1_PARTITIONS = {
  /** All registered agents, sorted by agent_id. */
  agents: 'AGENTS',
  /** All workflows, newest first by created_at. */
  workflows: 'WORKFLOWS',
  /** Assigned issues not yet resolved: the backlog `resources/optimize` plans. */
  backlog: 'BACKLOG',
  /** Issues no agent could take (C5): the manual-triage queue. */
  manualTriage: 'TRIAGE#MANUAL',
} as const;

/** Prefix of the idempotency records Powertools writes (PK = `IDEMPOTENCY#<function>`). */
export const IDEMPOTENCY_PK_PREFIX = 'IDEMPOTENCY#';
