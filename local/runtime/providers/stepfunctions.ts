/**
 * The Step Functions provider of the offline runtime (DESIGN §6.1).
 *
 * - ASL semantics (paths, Choice, Map, Parallel, Retry with backoff and jitter, Catch,
 *   intrinsics, execution TimeoutSeconds) come from aws-local-stepfunctions 3.0.0.
 * - Our layer (`stepfunctions/`) runs every Task: Lambda, SQS (with `.waitForTaskToken`
 *   callbacks, TimeoutSeconds and HeartbeatSeconds) and EventBridge; it serves the SFN API
 *   over AWS JSON 1.0 and records AWS-shaped execution histories.
 *
 * Known differences from AWS are listed in `stepfunctions/README.md`.
 */

import {
  DEFAULT_REGION,
  type DeployContext,
  type DeployedResource,
  LOCAL_ACCOUNT_ID,
  type Provider,
  type ResolvedResource,
  type ServiceRegistry,
} from '#local/runtime/types';
import { generatedName } from '../template';
import { createSfnApiHandler, TARGET_PREFIX } from './stepfunctions/api';
import type { StateMachineType } from './stepfunctions/arns';
import { applySubstitutions } from './stepfunctions/definition';
import { InvalidDefinitionError } from './stepfunctions/errors';
import type { ExecutionStats } from './stepfunctions/execution';
import type { EventBridgeEntry } from './stepfunctions/integrations';
import {
  type ExecutionDescription,
  type StartExecutionInput,
  StepFunctionsService,
} from './stepfunctions/service';

export type { ExecutionStats } from './stepfunctions/execution';
export type {
  EventBridgeEntry,
  EventsPublisher,
  SqsMessageAttributeValue,
  SqsSender,
  SqsSendResult,
} from './stepfunctions/integrations';
export type { ExecutionDescription, StartExecutionInput } from './stepfunctions/service';

export const STATE_MACHINE_TYPE = 'AWS::StepFunctions::StateMachine';

export interface StepFunctionsProviderOptions {
  /** Region and account of state machines deployed without a DeployContext saying otherwise. */
  readonly region?: string;
  readonly accountId?: string;
  /** Services for Task integrations until `start` or `deploy` hands over the runtime's registry. */
  readonly services?: ServiceRegistry;
  readonly log?: (message: string) => void;
  /** An execution whose history reaches this many events fails with States.Runtime. @default 25000 (AWS's quota) */
  readonly maxHistoryEvents?: number;
}

/** The provider, plus an in-process API for the runtime and tests. */
export interface StepFunctionsProvider extends Provider {
  startExecution(input: StartExecutionInput): { readonly executionArn: string; readonly startDate: Date };
  describeExecution(executionArn: string): ExecutionDescription;
  /** Resolves once the execution has closed; rejects after `timeoutMs` (default 30 s). */
  waitForExecution(executionArn: string, timeoutMs?: number): Promise<ExecutionDescription>;
  /** State transitions and task attempts, for the cost model. */
  executionStats(executionArn: string): ExecutionStats;
  /** Every entry `events:putEvents` tasks have sent, oldest first. */
  publishedEvents(): readonly EventBridgeEntry[];
}

/**
 * Creates the Step Functions provider.
 *
 * @example
 * const states = createStepFunctionsProvider();
 * await states.start?.(context);
 * const { ref: arn } = await states.deploy!(resource, deployContext);
 * const { executionArn } = states.startExecution({ stateMachineArn: arn, input: '{}' });
 * const result = await states.waitForExecution(executionArn);
 */
export function createStepFunctionsProvider(
  options: StepFunctionsProviderOptions = {},
): StepFunctionsProvider {
  let services = options.services;
  let log = options.log ?? (() => {});
  const service = new StepFunctionsService(
    () => services,
    (message) => log(message),
    options.maxHistoryEvents,
  );
  const handle = createSfnApiHandler(service, (message) => log(message));

  return {
    service: 'states',
    resourceTypes: [STATE_MACHINE_TYPE],

    matches: (request) =>
      request.target?.startsWith(TARGET_PREFIX) === true || request.signingService === 'states',

    handle,

    async start(context) {
      services = context.services;
      log = context.log;
    },

    async deploy(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource> {
      services = context.services;
      log = context.log;
      const properties = resource.properties;
      const name =
        typeof properties.StateMachineName === 'string'
          ? properties.StateMachineName
          : generatedName(context.stackName, resource.logicalId, {
              maxLength: 80,
              stable: true,
              withoutStack: true,
            });
      const record = service.deployStateMachine({
        partition: {
          region: context.region || options.region || DEFAULT_REGION,
          accountId: context.accountId || options.accountId || LOCAL_ACCOUNT_ID,
        },
        name,
        definition: definitionText(resource),
        type: machineType(properties.StateMachineType),
        ...(typeof properties.RoleArn === 'string' ? { roleArn: properties.RoleArn } : {}),
      });
      return {
        ref: record.arn,
        attributes: { Arn: record.arn, Name: record.name, StateMachineRevisionId: record.revisionId },
      };
    },

    async stop() {
      await service.stop();
    },

    startExecution: (input) => service.startExecution(input),
    describeExecution: (executionArn) => service.describeExecution(executionArn),
    waitForExecution: (executionArn, timeoutMs) => service.waitForExecution(executionArn, timeoutMs),
    executionStats: (executionArn) => service.executionStats(executionArn),
    publishedEvents: () => service.publishedEvents(),
  };
}

function definitionText(resource: ResolvedResource): string {
  const { DefinitionString, Definition, DefinitionSubstitutions } = resource.properties;
  let text: string;
  if (typeof DefinitionString === 'string') text = DefinitionString;
  else if (typeof Definition === 'object' && Definition !== null) text = JSON.stringify(Definition);
  else {
    throw new InvalidDefinitionError(
      `${resource.logicalId}: a state machine needs DefinitionString or Definition (DefinitionS3Location is not supported locally)`,
    );
  }
  const substitutions =
    typeof DefinitionSubstitutions === 'object' && DefinitionSubstitutions !== null
      ? (DefinitionSubstitutions as Record<string, unknown>)
      : {};
  return applySubstitutions(text, substitutions);
}

function machineType(value: unknown): StateMachineType {
  if (value === undefined || value === 'STANDARD') return 'STANDARD';
  if (value === 'EXPRESS') return 'EXPRESS';
  throw new InvalidDefinitionError(
    `StateMachineType must be STANDARD or EXPRESS, not ${JSON.stringify(value)}`,
  );
}
