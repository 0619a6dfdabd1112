/**
 * DynamoDB: AWS's own DynamoDB Local, run as a child process the provider owns. Every
 * `dynamodb` request is proxied to it. No re-signing: DynamoDB Local wants a
 * SigV4-shaped Authorization header but never checks the signature (its readiness
 * probe signs with `Signature=0`). The one change on the way: calls that consume
 * capacity ask for `ReturnConsumedCapacity: TOTAL`, so the provider can count read and
 * write units (`usage()`, `GET /_aws/usage`); when the caller had not asked, the field
 * is taken out of the answer and the `x-amz-crc32` checksum the SDK and the CLI verify
 * is recomputed (dynamodb-metering.ts). Every other answer comes back byte for byte.
 *
 * Deploys AWS::DynamoDB::Table: CreateTable from the template's keys, attribute
 * definitions, indexes, billing and streams, then UpdateTimeToLive. SSE, PITR,
 * deletion protection, tags and contributor insights are ignored (local/README.md).
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDbLocal, type DynamoDbLocalOptions, startDynamoDbLocal } from '#local/dynamodb-local';
import { generatedName, partitionOf } from '../template';
import {
  type AwsRequest,
  type AwsResponse,
  awsJsonError,
  type DeployContext,
  type DeployedResource,
  LOCAL_CREDENTIALS,
  type Provider,
  type ResolvedResource,
} from '../types';
import {
  CapacityMeter,
  dynamoOperation,
  errorTypeOf,
  meterRequest,
  meterResponse,
} from './dynamodb-metering';

const TARGET_PREFIXES = ['DynamoDB_20120810.', 'DynamoDBStreams_20120810.'];
/** Hop-by-hop headers, and the ones the edge sets itself. */
const DROPPED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'host',
  'proxy-connection',
  'upgrade',
]);
const PROXY_TIMEOUT_MS = 60_000;
const ACTIVE_WAIT_MS = 10_000;

export interface DynamoDbProviderOptions {
  /** Passed to startDynamoDbLocal; `port` defaults to 0 (a free port). */
  readonly dynamoDbLocal?: DynamoDbLocalOptions;
  /** Injectable for tests. @default startDynamoDbLocal */
  readonly start?: (options: DynamoDbLocalOptions) => Promise<DynamoDbLocal>;
}

export type DynamoDbProvider = Provider & {
  /** DynamoDB Local's own endpoint and JVM pid, while it runs. */
  readonly backend: { readonly endpoint: string; readonly pid: number } | undefined;
};

/**
 * @example
 * const dynamodb = createDynamoDbProvider();
 * await dynamodb.start?.(context); // boots the JVM on a free loopback port
 * await dynamodb.stop?.();         // and stops it
 */
export function createDynamoDbProvider(options: DynamoDbProviderOptions = {}): DynamoDbProvider {
  const start = options.start ?? startDynamoDbLocal;
  let backend: DynamoDbLocal | undefined;
  let client: DynamoDBClient | undefined;
  let agent: Agent | undefined;
  const meter = new CapacityMeter();

  return {
    service: 'dynamodb',
    resourceTypes: ['AWS::DynamoDB::Table'],
    get backend() {
      return backend && { endpoint: backend.endpoint, pid: backend.pid };
    },

    matches(request: AwsRequest): boolean {
      if (request.path.startsWith('/_aws/')) return false;
      return (
        request.signingService === 'dynamodb' ||
        TARGET_PREFIXES.some((prefix) => request.target?.startsWith(prefix) === true)
      );
    },

    async handle(request: AwsRequest): Promise<AwsResponse> {
      if (!backend || !agent) {
        return awsJsonError(503, 'ServiceUnavailable', 'DynamoDB Local is not running');
      }
      const metered = meterRequest(request.target, request.body);
      const answer = await proxy({ ...request, body: metered.body }, backend.port, agent);
      if (answer.status === 400 && metered.access === 'write') meter.refused(errorTypeOf(answer.body));
      const result = meterResponse(metered, answer.status, answer.headers, answer.body);
      meter.add(result.units, dynamoOperation(request.target));
      return { status: answer.status, headers: result.headers, body: result.body };
    },

    usage: () => meter.report(),

    async start(context): Promise<void> {
      // The JVM's own lines are kept for error messages, not printed.
      backend = await start({ port: 0, ...options.dynamoDbLocal });
      agent = new Agent({ keepAlive: true, maxSockets: 64 });
      client = new DynamoDBClient({
        endpoint: backend.endpoint,
        region: context.region,
        credentials: LOCAL_CREDENTIALS,
      });
      context.log(
        `dynamodb: DynamoDB Local ${backend.endpoint} (pid ${backend.pid}, ready in ${backend.startupMs} ms` +
          `${backend.loopbackOnly ? '' : ', listening on every interface'})`,
      );
    },

    async deploy(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource> {
      if (!client) throw new Error('the DynamoDB provider is not started');
      return deployTable(client, resource, context);
    },

    async stop(): Promise<void> {
      client?.destroy();
      agent?.destroy();
      client = undefined;
      agent = undefined;
      const running = backend;
      backend = undefined;
      await running?.stop();
    },
  };
}

/** DynamoDB Local's answer as it came: the body is always a Buffer. */
interface ProxiedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function proxy(request: AwsRequest, port: number, agent: Agent): Promise<ProxiedResponse> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !DROPPED_HEADERS.has(name)) headers[name] = value;
  }
  headers.host = `127.0.0.1:${port}`;
  headers['content-length'] = String(request.body.length);
  const query = request.query.toString();
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: query ? `${request.path}?${query}` : request.path,
        headers,
        agent,
        timeout: PROXY_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 502,
            headers: responseHeaders(response.headers),
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () =>
      outgoing.destroy(new Error(`DynamoDB Local did not answer within ${PROXY_TIMEOUT_MS} ms`)),
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

// ---------------------------------------------------------------------------
// AWS::DynamoDB::Table

/**
 * Builds the CreateTable input from the resource's properties. Properties DynamoDB
 * Local ignores or that have no local meaning (SSE, PITR, deletion protection, tags,
 * contributor insights, Kinesis, import, resource policies) are left out.
 */
export function createTableInput(
  tableName: string,
  properties: Readonly<Record<string, unknown>>,
): CreateTableCommandInput {
  const billingMode = (properties.BillingMode as string | undefined) ?? 'PROVISIONED';
  const provisioned = billingMode === 'PROVISIONED';
  const throughput = (value: unknown): { ReadCapacityUnits: number; WriteCapacityUnits: number } => {
    const given = (value ?? {}) as { ReadCapacityUnits?: unknown; WriteCapacityUnits?: unknown };
    return {
      ReadCapacityUnits: Number(given.ReadCapacityUnits ?? 5),
      WriteCapacityUnits: Number(given.WriteCapacityUnits ?? 5),
    };
  };
  const indexes = (value: unknown, withThroughput: boolean): Record<string, unknown>[] | undefined => {
    if (!Array.isArray(value) || value.length === 0) return undefined;
    return value.map((index: Record<string, unknown>) => ({
      IndexName: index.IndexName,
      KeySchema: index.KeySchema,
      Projection: index.Projection,
      ...(withThroughput && provisioned
        ? { ProvisionedThroughput: throughput(index.ProvisionedThroughput) }
        : {}),
    }));
  };
  const stream = properties.StreamSpecification as { StreamViewType?: string } | undefined;
  const input: Record<string, unknown> = {
    TableName: tableName,
    AttributeDefinitions: properties.AttributeDefinitions,
    KeySchema: properties.KeySchema,
    BillingMode: billingMode,
    ...(provisioned ? { ProvisionedThroughput: throughput(properties.ProvisionedThroughput) } : {}),
    GlobalSecondaryIndexes: indexes(properties.GlobalSecondaryIndexes, true),
    LocalSecondaryIndexes: indexes(properties.LocalSecondaryIndexes, false),
    ...(stream?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType } }
      : {}),
  };
  return input as unknown as CreateTableCommandInput;
}

async function deployTable(
  client: DynamoDBClient,
  resource: ResolvedResource,
  context: DeployContext,
): Promise<DeployedResource> {
  const { properties, logicalId } = resource;
  const tableName =
    typeof properties.TableName === 'string' && properties.TableName !== ''
      ? properties.TableName
      : generatedName(context.stackName, logicalId, { maxLength: 255 });
  let table: TableDescription | undefined;
  try {
    table = (await client.send(new CreateTableCommand(createTableInput(tableName, properties))))
      .TableDescription;
  } catch (error) {
    // A persistent dbPath keeps tables across restarts: reuse the one already there.
    if (!(error instanceof ResourceInUseException)) throw error;
    context.log(`dynamodb: table ${tableName} already exists; reusing it`);
  }
  table = await waitUntilActive(client, tableName, table);

  const ttl = properties.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  if (ttl?.Enabled && ttl.AttributeName) {
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
        }),
      )
      .catch((error: Error) => {
        // Already enabled on a reused table.
        if (!/already enabled/i.test(error.message)) throw error;
      });
  }

  const arn = `arn:${partitionOf(context.region)}:dynamodb:${context.region}:${context.accountId}:table/${tableName}`;
  const attributes: Record<string, string> = { Arn: arn };
  if (table?.LatestStreamArn) attributes.StreamArn = table.LatestStreamArn;
  return { ref: tableName, attributes };
}

async function waitUntilActive(
  client: DynamoDBClient,
  tableName: string,
  created: TableDescription | undefined,
): Promise<TableDescription | undefined> {
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  let table = created;
  for (;;) {
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (table?.TableStatus === 'ACTIVE' && indexesActive) return table;
    if (Date.now() > deadline)
      throw new Error(`table ${tableName} did not become ACTIVE within ${ACTIVE_WAIT_MS} ms`);
    if (table) await new Promise((resolve) => setTimeout(resolve, 100));
    table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  }
}
