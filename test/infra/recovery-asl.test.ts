/**
 * Checks on statemachines/recovery.asl.json (STYLE: ASL), on the file and on the definition
 * CloudFormation receives: every placeholder is substituted, every callback Task has a
 * timeout and a heartbeat, every Task has a path to a Catch, and the retry policy is the
 * core's.
 */
import * as fs from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_RETRY_POLICY, toAslRetrier } from '#core/retry';
import { EXECUTE_ATTEMPTS } from '#core/workflow';
import { buildApp } from '../../infra/app';
import { RECOVERY_ASL_PATH, RECOVERY_PLACEHOLDERS } from '../../infra/constructs/recovery-workflow';
import { type CfnTemplate, resourcesOfType } from './template-helpers';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type State = { [key: string]: Json } & { Type: string };
interface StateMachine {
  StartAt: string;
  States: Record<string, State>;
}

/** Every state, with the chain of Map/Parallel states enclosing it. */
function walk(
  machine: StateMachine,
  enclosing: State[] = [],
): { name: string; state: State; enclosing: State[] }[] {
  return Object.entries(machine.States).flatMap(([name, state]) => {
    const nested: { name: string; state: State; enclosing: State[] }[] = [];
    const processor = (state.ItemProcessor ?? state.Iterator) as unknown as StateMachine | undefined;
    if (processor) nested.push(...walk(processor, [...enclosing, state]));
    for (const branch of (state.Branches ?? []) as unknown as StateMachine[])
      nested.push(...walk(branch, [...enclosing, state]));
    return [{ name, state, enclosing }, ...nested];
  });
}

const catchesAll = (state: State) =>
  ((state.Catch ?? []) as { ErrorEquals: string[] }[]).some((c) => c.ErrorEquals.includes('States.ALL'));

const source = fs.readFileSync(RECOVERY_ASL_PATH, 'utf8');
const fileMachine = JSON.parse(source) as StateMachine;
let deployed: StateMachine;

beforeAll(() => {
  const { stack } = buildApp({ env: {} });
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const [[, resource] = ['', undefined]] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  const props = resource?.Properties ?? {};
  // CloudFormation substitutes DefinitionSubstitutions into DefinitionString; do the same with markers.
  const substitutions = props.DefinitionSubstitutions as Record<string, unknown>;
  let definition = String(props.DefinitionString);
  for (const name of Object.keys(substitutions))
    definition = definition.split(`\${${name}}`).join(`arn-of-${name}`);
  deployed = JSON.parse(definition) as StateMachine;
}, 120_000);

describe('recovery.asl.json', () => {
  it('holds only the known placeholders, and CDK substitutes every one of them', () => {
    // Prepare
    const found = [...new Set([...source.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1]))].sort();

    // Act
    const leftOver = JSON.stringify(deployed).match(/\$\{[A-Za-z0-9]+\}/g);

    // Assess
    expect(found).toEqual([...RECOVERY_PLACEHOLDERS].sort());
    expect(leftOver).toBeNull();
    expect(JSON.stringify(deployed)).toContain('arn-of-WorkflowFunctionArn');
  });

  it('gives every callback Task a timeout and a heartbeat (read from the step, see core/workflow.ts)', () => {
    // Prepare
    const callbacks = walk(deployed).filter(({ state }) =>
      String(state.Resource ?? '').endsWith('.waitForTaskToken'),
    );

    // Act
    const missing = callbacks.filter(
      ({ state }) =>
        !(state.TimeoutSeconds ?? state.TimeoutSecondsPath) ||
        !(state.HeartbeatSeconds ?? state.HeartbeatSecondsPath),
    );

    // Assess
    expect(callbacks.map((c) => c.name).sort()).toEqual(['CompensateStep', 'Dispatch']);
    expect(missing.map((c) => c.name)).toEqual([]);
  });

  it('gives every Task a path to a Catch: its own, or one on an enclosing Map', () => {
    // Prepare
    const tasks = walk(deployed).filter(({ state }) => state.Type === 'Task');

    // Act
    const uncaught = tasks.filter(
      ({ state, enclosing }) => !catchesAll(state) && !enclosing.some(catchesAll),
    );

    // Assess
    expect(tasks.length).toBeGreaterThanOrEqual(10);
    expect(uncaught.map((t) => t.name)).toEqual([]);
  });

  it("retries the execute dispatch with the core's policy, full jitter, and never on Agent.Permanent", () => {
    // Prepare
    const dispatch = walk(deployed).find((s) => s.name === 'Dispatch')?.state as State;
    const retriers = dispatch.Retry as unknown as { ErrorEquals: string[] }[];

    // Act
    const agentRetrier = retriers.find((r) => r.ErrorEquals.includes('Agent.Transient'));

    // Assess
    expect(agentRetrier).toEqual(toAslRetrier(DEFAULT_RETRY_POLICY));
    expect(retriers.flatMap((r) => r.ErrorEquals)).not.toContain('Agent.Permanent');
    expect(retriers.flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
    for (const retrier of retriers) expect(retrier).toMatchObject({ JitterStrategy: 'FULL' });
  });

  it('re-dispatches after a re-route and waits out an open circuit, within the history budget', () => {
    // Prepare
    const dispatch = walk(deployed).find((s) => s.name === 'Dispatch')?.state as State;
    const retriers = dispatch.Retry as unknown as { ErrorEquals: string[]; MaxAttempts: number }[];
    const lambdaService = (r: { ErrorEquals: string[] }) => r.ErrorEquals.includes('Lambda.ServiceException');

    // Act
    const byError = (name: string) => retriers.find((r) => r.ErrorEquals.includes(name));
    const attempts = 1 + retriers.filter((r) => !lambdaService(r)).reduce((sum, r) => sum + r.MaxAttempts, 0);

    // Assess
    expect(byError('Agent.Rerouted')).toMatchObject({ MaxAttempts: 2 });
    expect(byError('Agent.CircuitOpen')).toMatchObject({ MaxAttempts: 3, MaxDelaySeconds: 60 });
    expect(byError('Agent.Unavailable')).toBeUndefined();
    expect(attempts).toBe(EXECUTE_ATTEMPTS);
  });

  it('orders each wave before it runs, and falls back to the planned order when ordering fails', () => {
    // Prepare
    const states = walk(deployed);
    const order = states.find((s) => s.name === 'OrderWave')?.state as State;
    const keep = states.find((s) => s.name === 'KeepPlannedOrder')?.state as State;
    const runSteps = states.find((s) => s.name === 'RunSteps')?.state as State;

    // Assess
    expect(order).toMatchObject({
      Parameters: {
        Payload: {
          op: 'order',
          'steps.$': '$.segment.steps',
          'max_concurrency.$': '$.segment.max_concurrency',
        },
      },
      ResultPath: '$.ordered',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'KeepPlannedOrder' }],
      Next: 'RunSteps',
    });
    expect(keep).toMatchObject({
      Type: 'Pass',
      Parameters: { 'steps.$': '$.segment.steps' },
      ResultPath: '$.ordered',
    });
    expect(runSteps).toMatchObject({ ItemsPath: '$.ordered.steps' });
  });

  it('compensates one step at a time, with fewer tries than the execute dispatch', () => {
    // Prepare
    const states = walk(deployed);
    const compensate = states.find((s) => s.name === 'Compensate')?.state as State;
    const step = states.find((s) => s.name === 'CompensateStep')?.state as State;

    // Act
    const retrier = (step.Retry as unknown as { ErrorEquals: string[]; MaxAttempts: number }[]).find((r) =>
      r.ErrorEquals.includes('Agent.Transient'),
    );

    // Assess
    expect(compensate.MaxConcurrency).toBe(1);
    expect(retrier?.MaxAttempts).toBeLessThan(toAslRetrier(DEFAULT_RETRY_POLICY).MaxAttempts);
  });

  it('sends every failure of the run to the rollback, and every end of the rollback to a final status', () => {
    // Prepare
    const top = deployed.States;

    // Act
    const firstCatch = (state: State | undefined) =>
      (state?.Catch as unknown as { Next: string }[] | undefined)?.[0]?.Next;
    const runCatch = firstCatch(top.RunSegments);
    const planCatch = firstCatch(top.Plan);

    // Assess
    expect(runCatch).toBe('PlanRollback');
    expect(planCatch).toBe('PlanRollback');
    expect(top.Compensate?.Next).toBe('FinishRolledBack');
    expect(firstCatch(top.Compensate)).toBe('FinishRollbackFailed');
    expect(top.RolledBack).toMatchObject({ Type: 'Fail', Error: 'Workflow.RolledBack' });
    expect(top.RollbackFailed).toMatchObject({ Type: 'Fail', Error: 'Workflow.RollbackFailed' });
  });

  it('is the file CDK deploys, unchanged but for the substitutions', () => {
    // Prepare
    const substituted = JSON.parse(
      source.split(`\${WorkflowFunctionArn}`).join('arn-of-WorkflowFunctionArn'),
    );

    // Act / Assess
    expect(deployed).toEqual(substituted);
    expect(fileMachine.StartAt).toBe('Route');
  });
});
