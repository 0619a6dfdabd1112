/** POST api/orchestrator/triage: the assignment POST issues would make, as a dry run that stores nothing. */
import * as z from 'zod';
import { triageIssues } from '#core/triage';
import type { IssueTriageRequest } from '#core/wire';
import { documentClient } from '#shared/clients/dynamodb';
import { loadConfig, TableEnv } from '#shared/config';
import { httpHandler, routeById } from '#shared/http';
import { recordTriage } from '#shared/powertools';
import { AgentSnapshotReader } from '#shared/repository/agent-snapshots';

const config = loadConfig(z.object(TableEnv));
const agents = new AgentSnapshotReader(documentClient, config.TABLE_NAME);

export const handler = httpHandler<IssueTriageRequest>(routeById('triageIssues'), async ({ body }) => {
  const agentList = await agents.listSnapshots();
  const started = performance.now();
  const { assignment } = triageIssues(body, agentList, { now_ms: Date.now() });
  recordTriage(assignment, performance.now() - started);
  return { body: assignment };
});
