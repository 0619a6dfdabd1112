/**
 * The offline runtime: the edge server, the providers, and the synthesized template
 * deployed into them. `npm start` (local/start.ts) and the integration tests boot it
 * through {@link startRuntime}.
 *
 * Boot order:
 * 1. read the template (a missing or broken `cdk.out` fails before anything starts);
 * 2. start the edge, so its endpoint (with the real port when `port` is 0) is known;
 * 3. start the providers, in parallel, with that endpoint in their context: the Lambda
 *    provider hands it to its workers as `AWS_ENDPOINT_URL` (see `localAwsEnvironment`);
 * 4. deploy the resources in dependency order, then resolve the Outputs.
 * Any failure stops whatever already started.
 */
import { type Edge, type ServiceStatus, startEdge } from './edge';
import { createProviders } from './providers/index';
import { type DeployedEntry, deployTemplate, loadTemplate } from './template';
import {
  DEFAULT_REGION,
  type DeployContext,
  type LambdaInvoker,
  LOCAL_ACCOUNT_ID,
  type Provider,
  type ServiceRegistry,
} from './types';

export interface RuntimeOptions {
  /** Edge port on 127.0.0.1; 0 picks a free one. @default 4566 */
  readonly port?: number;
  /** The cloud assembly folder. @default 'cdk.out' */
  readonly assemblyDir?: string;
  /** @default the only stack in the assembly */
  readonly stackName?: string;
  /** Receives every log line. @default console.log */
  readonly log?: (message: string) => void;
  /** @default createProviders() */
  readonly providers?: readonly Provider[];
  /** Template parameter overrides. @default {} */
  readonly parameters?: Readonly<Record<string, string>>;
  /** @default the region the stack was synthesized for, else us-east-1 */
  readonly region?: string;
}

export interface Runtime {
  /** `http://127.0.0.1:<port>`: the one endpoint for every service. */
  readonly endpoint: string;
  readonly port: number;
  readonly stackName: string;
  readonly region: string;
  /** The stack's Outputs, with AWS URLs rewritten to the edge (see {@link localizeUrls}). */
  readonly outputs: Readonly<Record<string, string>>;
  /** Every resource by logical id, with how it was deployed. */
  readonly resources: ReadonlyMap<string, DeployedEntry>;
  /** Milliseconds from the call to a deployed stack. */
  readonly bootMs: number;
  /** Stops the edge and every provider (child processes and workers included). Idempotent. */
  stop(): Promise<void>;
}

/** Some providers could not stop; the others were stopped anyway. */
export class RuntimeStopError extends AggregateError {
  override readonly name = 'RuntimeStopError';
}

/**
 * Boots the runtime and deploys the stack.
 *
 * @example
 * const runtime = await startRuntime({ port: 0, assemblyDir: 'cdk.out' });
 * runtime.outputs.RestApiUrl; // http://127.0.0.1:43121/_aws/execute-api/<apiId>/v1/
 * await runtime.stop();
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const startedAt = performance.now();
  const log = options.log ?? ((message: string) => console.log(message));
  const assemblyDir = options.assemblyDir ?? 'cdk.out';
  const loaded = loadTemplate(assemblyDir, options.stackName);
  const region = options.region ?? loaded.region ?? DEFAULT_REGION;
  const providers = options.providers ?? createProviders();
  const status = new Map<string, ServiceStatus>(providers.map((provider) => [provider.service, 'starting']));

  const edge = await startEdge({
    port: options.port ?? 4566,
    providers,
    region,
    log,
    health: () => Object.fromEntries(status),
  });

  const lambda = providers.find(isLambdaInvoker);
  const services: ServiceRegistry = {
    lambda,
    get: (service) => providers.find((provider) => provider.service === service),
  };
  const context: DeployContext = {
    region,
    accountId: LOCAL_ACCOUNT_ID,
    endpoint: edge.endpoint,
    assemblyDir,
    stackName: loaded.stackName,
    services,
    log,
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopAll(edge, providers, status, log);
    return stopping;
  };

  try {
    const { stackName: _stackName, ...startContext } = context;
    const started = await Promise.allSettled(
      providers.map(async (provider) => {
        try {
          await provider.start?.(startContext);
          status.set(provider.service, 'running');
        } catch (error) {
          status.set(provider.service, 'error');
          throw new Error(`the ${provider.service} provider did not start: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }),
    );
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;

    const deployed = await deployTemplate({
      template: loaded.template,
      context,
      providers,
      parameters: options.parameters,
    });
    const outputs = Object.fromEntries(
      Object.entries(deployed.outputs).map(([key, value]) => [key, localizeUrls(value, edge.endpoint)]),
    );
    const bootMs = Math.round(performance.now() - startedAt);
    log(`runtime: ${loaded.stackName} deployed in ${bootMs} ms (${deployed.resources.size} resources)`);
    return {
      endpoint: edge.endpoint,
      port: edge.port,
      stackName: loaded.stackName,
      region,
      outputs,
      resources: deployed.resources,
      bootMs,
      stop,
    };
  } catch (error) {
    await stop().catch((stopError: unknown) =>
      log(`runtime: cleanup after a failed boot: ${String(stopError)}`),
    );
    throw error;
  }
}

async function stopAll(
  edge: Edge,
  providers: readonly Provider[],
  status: Map<string, ServiceStatus>,
  log: (message: string) => void,
): Promise<void> {
  await edge.close();
  const results = await Promise.allSettled(
    [...providers].reverse().map(async (provider) => {
      status.set(provider.service, 'stopping');
      await provider.stop?.();
      status.set(provider.service, 'stopped');
    }),
  );
  const errors = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  for (const error of errors) log(`runtime: a provider did not stop cleanly: ${(error as Error).message}`);
  if (errors.length > 0)
    throw new RuntimeStopError(errors, `${errors.length} provider(s) did not stop cleanly`);
}

function isLambdaInvoker(provider: Provider): provider is Provider & LambdaInvoker {
  return typeof (provider as Partial<LambdaInvoker>).invoke === 'function';
}

/**
 * Rewrites API Gateway URLs to the edge's no-DNS form (LocalStack's):
 * `https://<id>.execute-api.<region>.amazonaws.com/<stage>/...` becomes
 * `http://127.0.0.1:<port>/_aws/execute-api/<id>/<stage>/...`, and `wss://` becomes `ws://`.
 *
 * @example
 * localizeUrls('https://abc123.execute-api.us-east-1.amazonaws.com/v1/', 'http://127.0.0.1:4566');
 * // 'http://127.0.0.1:4566/_aws/execute-api/abc123/v1/'
 */
export function localizeUrls(value: string, endpoint: string): string {
  const host = endpoint.replace(/^https?:\/\//, '');
  return value.replace(
    /\b(https|wss):\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(\/|\b)/g,
    (_match, scheme: string, apiId: string, slash: string) =>
      `${scheme === 'wss' ? 'ws' : 'http'}://${host}/_aws/execute-api/${apiId}${slash}`,
  );
}
