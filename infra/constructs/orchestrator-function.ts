import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Repository root: `infra/constructs/` is two levels below it. */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Every function shares these so Powertools groups logs and metrics under one service. */
export const POWERTOOLS_SERVICE_NAME = 'master-orchestrator';
export const POWERTOOLS_METRICS_NAMESPACE = 'MasterOrchestrator';

/** Why every function's role holds a `*` resource; listed in infra/README.md. */
export const XRAY_WILDCARD_REASON =
  'X-Ray PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level permissions: AWS requires Resource "*" for them.';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface OrchestratorFunctionProps {
  /**
   * The handler's folder under `functions/`: the entry is `functions/<name>/handler.ts`
   * and the export is `handler`. Required.
   */
  readonly name: string;

  /**
   * What the function does, shown in the Lambda console.
   * @default - `Master Orchestrator <name>`
   */
  readonly description?: string;

  /**
   * Extra environment variables. The Powertools variables, `LOG_LEVEL` and
   * `NODE_OPTIONS` are always set and win over these.
   * @default - none
   */
  readonly environment?: Record<string, string>;

  /**
   * Powertools Logger level.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * Memory in MB. CPU scales with it, and 512 MB keeps cold starts short.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;

  /**
   * Concurrency reserved for (and capped at) this function.
   * @default - no reservation: the function draws on the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number;

  /**
   * How long the function's log group keeps events.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Why the role also needs a `*` resource besides X-Ray (some action AWS offers no
   * resource-level permission for). Goes into the cdk-nag acknowledgement.
   * @default - only X-Ray needs `*`
   */
  readonly extraWildcardResourceReason?: string;

  /**
   * Folder that holds the `<name>/handler.ts` folders.
   * @default - the repository's `functions/`
   */
  readonly functionsDir?: string;
}

/**
 * A Node.js Lambda function with the orchestrator's defaults: bundled by the local
 * esbuild (no Docker), arm64 on the newest Node.js runtime, an explicit log group
 * with retention, X-Ray tracing, Powertools environment, and a hand-made role whose
 * only permissions are writing to its own log group and sending traces. Everything
 * else is granted explicitly through `grantX` methods of the resources it uses.
 *
 * @example
 * const fn = new OrchestratorFunction(this, 'IntakeFunction', { name: 'intake' });
 * table.grantReadWriteData(fn);
 */
export class OrchestratorFunction extends Construct implements iam.IGrantable {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: OrchestratorFunctionProps) {
    super(scope, id);
    const functionsDir = props.functionsDir ?? path.join(REPO_ROOT, 'functions');

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    // A role by hand rather than the CDK default, which attaches the managed
    // AWSLambdaBasicExecutionRole (logs on every log group in the account).
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Master Orchestrator ${props.name} function`,
      inlinePolicies: {
        OwnLogGroup: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              // The attribute ends in `:*`, which covers the group's log streams.
              resources: [this.logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(functionsDir, props.name, 'handler.ts'),
      handler: 'handler',
      description: props.description ?? `Master Orchestrator ${props.name}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      projectRoot: REPO_ROOT,
      bundling: {
        minify: true,
        sourceMap: true,
        // Stack traces map to file:line without shipping the sources.
        sourcesContent: false,
        target: 'node24',
        format: nodejs.OutputFormat.CJS,
        // The runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        forceDockerBundling: false,
      },
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE,
        LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    this.grantPrincipal = this.function.grantPrincipal;

    // Tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords on `*` to the
    // role's default policy. cdk-nag reports all `*` resources of a role as one
    // finding, so this one acknowledgement carries every reason.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: [XRAY_WILDCARD_REASON, props.extraWildcardResourceReason].filter(Boolean).join(' '),
    });
  }

  /** The function's name, for outputs and alarms. */
  get functionName(): string {
    return this.function.functionName;
  }

  /** Adds an environment variable; for values known only after the function exists. */
  addEnvironment(key: string, value: string): this {
    this.function.addEnvironment(key, value);
    return this;
  }
}
