import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type CircuitBreakerConfig, DEFAULT_CIRCUIT_CONFIG } from '#core/circuit-breaker';
import { SWEEP_DEFAULTS, SWEEP_MINIMUMS } from '#shared/config';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';
import { nagRendering, stateMachineExecutionsArn } from './rest-api';

export interface HealthSweepProps {
  /** The single table: agents (heartbeats, circuits) and workflows (their last event). Required. */
  readonly table: OrchestratorTable;

  /** The bus the sweep publishes agent health events to (`agent.unhealthy`). Required. */
  readonly eventBus: events.IEventBus;

  /** The recovery state machine: the sweep checks its executions and fails tokens of dead agents. Required. */
  readonly stateMachine: sfn.StateMachine;

  /**
   * An agent whose last heartbeat is older than this is marked UNHEALTHY. Integer >= 10.
   * @default 90
   */
  readonly agentHeartbeatStaleSeconds?: number;

  /**
   * A workflow still at work with no event for this long is reported stalled. Integer >= 60.
   * @default 900
   */
  readonly stalledAfterSeconds?: number;

  /**
   * The circuit breaker tuning the sweep reads circuits with (env `CIRCUIT_BREAKER`, JSON).
   * @default DEFAULT_CIRCUIT_CONFIG from functions/core/circuit-breaker.ts
   */
  readonly circuitBreaker?: CircuitBreakerConfig;

  /**
   * How often the sweep runs.
   * @default events.Schedule.rate(Duration.minutes(1))
   */
  readonly schedule?: events.Schedule;

  /**
   * Powertools log level of the sweep function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * What happens to the sweep's log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The health sweep: the `sweep` Lambda (functions/sweep/handler.ts) on an EventBridge schedule
 * of the default bus (every minute). It marks agents whose heartbeat went stale, fails the
 * in-flight task tokens they hold, and reports workflows that stopped moving.
 *
 * Grants: table read/write; PutEvents on the domain-event bus; the task callbacks on the
 * recovery state machine (`grantTaskResponse`); `states:ListExecutions` on the state machine and
 * `states:DescribeExecution` on its executions only.
 *
 * @example
 * const sweep = new HealthSweep(this, 'HealthSweep', {
 *   table, eventBus: recovery.eventBus, stateMachine: recovery.stateMachine,
 * });
 * new CfnOutput(this, 'SweepFunctionName', { value: sweep.function.functionName });
 */
export class HealthSweep extends Construct {
  readonly function: OrchestratorFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: HealthSweepProps) {
    super(scope, id);
    const agentHeartbeatStaleSeconds = atLeast(
      this,
      'agentHeartbeatStaleSeconds',
      props.agentHeartbeatStaleSeconds ?? SWEEP_DEFAULTS.agentHeartbeatStaleSeconds,
    );
    const stalledAfterSeconds = atLeast(
      this,
      'stalledAfterSeconds',
      props.stalledAfterSeconds ?? SWEEP_DEFAULTS.stalledAfterSeconds,
    );

    this.function = new OrchestratorFunction(this, 'SweepFunction', {
      name: 'sweep',
      description:
        'Master Orchestrator health sweep: stale agents, their in-flight tokens, stalled workflows',
      environment: {
        TABLE_NAME: props.table.tableName,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        EVENT_BUS_NAME: props.eventBus.eventBusName,
        AGENT_HEARTBEAT_STALE_SECONDS: String(agentHeartbeatStaleSeconds),
        STALLED_AFTER_SECONDS: String(stalledAfterSeconds),
        CIRCUIT_BREAKER: JSON.stringify(props.circuitBreaker ?? DEFAULT_CIRCUIT_CONFIG),
      },
      // One sweep reads every agent and every running workflow; the schedule is a minute.
      timeout: Duration.seconds(60),
      logLevel: props.logLevel,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    props.table.grantReadWriteData(this.function);
    props.eventBus.grantPutEventsTo(this.function);
    // SendTaskFailure for the tokens a dead agent holds; IAM checks task callbacks against the
    // state machine whose execution issued the token, so this names that one state machine.
    props.stateMachine.grantTaskResponse(this.function);

    // What grantRead would give, minus its `*` statement (ListActivities, DescribeStateMachine,
    // DescribeActivity), which the sweep does not call.
    const stack = Stack.of(this);
    const executions = stateMachineExecutionsArn(this, props.stateMachine);
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:ListExecutions'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );
    Validations.of(this.function.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagRendering(stack.resolve(executions))}]`,
      reason:
        'The sweep describes the executions of the recovery state machine to find stalled ones; their names (workflow ids) are not known at deploy time: every execution of that one state machine, and nothing else.',
    });

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the Master Orchestrator health sweep',
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(this.function.function, {
          retryAttempts: 2,
          // A sweep older than this is superseded by the next one.
          maxEventAge: Duration.minutes(2),
        }),
      ],
    });
  }

  /** The sweep function's name (output `SweepFunctionName`). */
  get functionName(): string {
    return this.function.functionName;
  }
}

function atLeast(scope: Construct, name: keyof typeof SWEEP_MINIMUMS, value: number): number {
  const minimum = SWEEP_MINIMUMS[name];
  if (!Number.isInteger(value) || value < minimum) {
    throw new Error(`${scope.node.path}: ${name} must be an integer >= ${minimum}, got ${value}`);
  }
  return value;
}
