/**
 * The CDK app: one stack, `MasterOrchestrator`, with the cdk-nag AwsSolutions pack
 * always on. `npx cdk synth` runs this file (cdk.json); tests call `buildApp()`.
 *
 * Context switches (`-c key=value`, or cdk.json):
 * - `removalPolicy=retain|destroy` (default retain): destroy is for throwaway dev stacks.
 * - `websocket=true|false` (default true): false drops the WebSocket API for
 *   LocalStack plans without API Gateway v2. A no-op until that API exists.
 * - `corsAllowOrigins=https://a.example,https://b.example` (default none).
 * - `agentHeartbeatStaleSeconds=<n>` (default 90), `stalledAfterSeconds=<n>` (default 900):
 *   the health sweep's thresholds.
 * - `maxBacklogIssues=<n>` (default 5000), `backlogRetryAfterSeconds=<n>` (default 30):
 *   backpressure of POST issues and POST workflows.
 * - `circuitFailureThreshold=<n>` (default 5), `circuitCooldownSeconds=<n>` (default 30):
 *   the per-agent circuit breaker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { CircuitBreakerConfig } from '#core/circuit-breaker';
import {
  OrchestratorStack,
  type OrchestratorStackProps,
  type RemovalPolicyName,
} from './stacks/orchestrator-stack';

export const STACK_NAME = 'MasterOrchestrator';

const CDK_JSON = path.resolve(__dirname, '..', 'cdk.json');

export interface BuildAppProps {
  /**
   * Context values, as `-c key=value` gives them. They win over cdk.json's.
   * @default - none
   */
  readonly context?: Record<string, unknown>;

  /**
   * Where the cloud assembly goes.
   * @default - CDK_OUTDIR when the CLI runs the app, a temporary folder otherwise
   */
  readonly outdir?: string;

  /**
   * The stack's account and region.
   * @default - CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION when set, environment-agnostic otherwise
   */
  readonly env?: Environment;

  /**
   * Stack props; they win over context.
   * @default - from context
   */
  readonly stackProps?: OrchestratorStackProps;
}

export interface BuiltApp {
  readonly app: App;
  readonly stack: OrchestratorStack;
}

/**
 * Builds the app in memory: the stack, the cdk-nag plugin, cdk.json's context.
 *
 * @example
 * const { app, stack } = buildApp({ env: {} });
 * const assembly = app.synth(); // throws on any unacknowledged cdk-nag finding
 */
export function buildApp(props: BuildAppProps = {}): BuiltApp {
  const app = new App({
    outdir: props.outdir,
    // The CLI passes cdk.json's context itself; in-process callers (tests) get the same flags here.
    context: { ...readCdkJsonContext(), ...props.context },
  });

  const stack = new OrchestratorStack(app, STACK_NAME, {
    stackName: STACK_NAME,
    env: props.env ?? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    removalPolicy: removalPolicyFrom(app.node.tryGetContext('removalPolicy')),
    websocket: booleanFrom(app.node.tryGetContext('websocket'), 'websocket', true),
    corsAllowOrigins: listFrom(app.node.tryGetContext('corsAllowOrigins')),
    agentHeartbeatStaleSeconds: numberFrom(app, 'agentHeartbeatStaleSeconds'),
    stalledAfterSeconds: numberFrom(app, 'stalledAfterSeconds'),
    maxBacklogIssues: numberFrom(app, 'maxBacklogIssues'),
    backlogRetryAfterSeconds: numberFrom(app, 'backlogRetryAfterSeconds'),
    workflowMemorySize: numberFrom(app, 'workflowMemorySize'),
    circuitBreaker: circuitBreakerFrom(app),
    ...props.stackProps,
  });

  // cdk-nag 3 is a policy-validation plugin: synth fails on any finding that no
  // Validations.of(scope).acknowledge({ id, reason }) covers. Acknowledgements are
  // also written into the template's resource Metadata (`cdk_nag`), so the
  // deployed template carries its own audit trail.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));

  return { app, stack };
}

function readCdkJsonContext(): Record<string, unknown> {
  if (!fs.existsSync(CDK_JSON)) return {};
  const parsed = JSON.parse(fs.readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

function removalPolicyFrom(value: unknown): RemovalPolicyName {
  if (value === undefined || value === 'retain') return 'retain';
  if (value === 'destroy') return 'destroy';
  throw new Error(`context removalPolicy must be "retain" or "destroy", got ${JSON.stringify(value)}`);
}

function booleanFrom(value: unknown, key: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** A numeric context value (`-c key=<n>` gives a string); undefined when unset. */
function numberFrom(app: App, key: string): number | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === '') return undefined;
  const parsed = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(parsed))
    throw new Error(`context ${key} must be a number, got ${JSON.stringify(value)}`);
  return parsed;
}

/** The circuit breaker fields the context sets; the stack merges them over the defaults. */
function circuitBreakerFrom(app: App): Partial<CircuitBreakerConfig> {
  const failureThreshold = numberFrom(app, 'circuitFailureThreshold');
  const cooldownSeconds = numberFrom(app, 'circuitCooldownSeconds');
  return {
    ...(failureThreshold !== undefined && { failure_threshold: failureThreshold }),
    ...(cooldownSeconds !== undefined && { cooldown_ms: cooldownSeconds * 1000 }),
  };
}

function listFrom(value: unknown): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  if (Array.isArray(value)) return value.map(String);
  return String(value)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

if (require.main === module) {
  buildApp().app.synth();
}
