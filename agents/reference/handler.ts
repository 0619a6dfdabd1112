/**
 * A reference agent (contract C8) as a Lambda SQS consumer: one per category, deployed by
 * infra/constructs/reference-agents.ts with `AGENT_ID` and `AGENT_CATEGORY` in its environment.
 * It does no real work: `issue.parameters.simulate` decides the answer (see ./simulate.ts).
 */

import { createAgent } from '#agents/sdk/index';
import { Category } from '#core/wire';
import { simulateTask } from './simulate';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const agent = createAgent({
  agent_id: requiredEnv('AGENT_ID'),
  categories: [Category.parse(requiredEnv('AGENT_CATEGORY'))],
  execute: (task, context) => simulateTask(task, context),
  rollback: (task, context) => simulateTask(task, context),
});

export const handler = agent.lambdaHandler;
