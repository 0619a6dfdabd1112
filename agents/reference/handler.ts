/**
 * A reference agent (contract C8) as a Lambda SQS consumer: one per category, deployed by
 * infra/constructs/reference-agents.ts with `AGENT_ID` and `AGENT_CATEGORY` in its environment.
 * It does no real work: `issue.parameters.simulate` decides the answer (see ./simulate.ts).
 */

import { SFNClient } from '@aws-sdk/client-sfn';
import { AGENT_SDK_RETRY, createAgent, stepFunctionsCallbacks } from '#agents/sdk/index';
import { Category } from '#core/wire';
import { simulateTask } from './simulate';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// One set of callbacks for the SDK and for `simulate.duplicate_callback`'s early answer, so
// both answers of a duplicate go the same way.
const callbacks = stepFunctionsCallbacks(new SFNClient(AGENT_SDK_RETRY));

const agent = createAgent({
  agent_id: requiredEnv('AGENT_ID'),
  categories: [Category.parse(requiredEnv('AGENT_CATEGORY'))],
  callbacks,
  execute: (task, context) => simulateTask(task, context, undefined, callbacks.success),
  rollback: (task, context) => simulateTask(task, context, undefined, callbacks.success),
});

export const handler = agent.lambdaHandler;
