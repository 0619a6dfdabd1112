/**
 * The offline runtime booted once from the real cdk.out, checked over the real SDK v3
 * and the machine's AWS CLI, as a user would point them at it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { USAGE_PATH, type UsageCounters } from '#local/runtime/edge';
import type { DynamoDbProvider } from '#local/runtime/providers/dynamodb';
import { createProviders } from '#local/runtime/providers/index';
import type { Runtime } from '#local/runtime/runtime';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, type Provider } from '#local/runtime/types';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import type { Role } from '#shared/routes';
import { runAwsCli } from '../local/aws-cli';
import { BOOT_TIMEOUT_MS, bootRuntime, PROJECT_DIR } from './boot';

let runtime: Runtime;
let logs: string[];
let providers: Provider[];
let jvmPid: number;

beforeAll(async () => {
  providers = createProviders();
  ({ runtime, logs } = await bootRuntime({ providers }));
  const dynamodb = providers.find((provider) => provider.service === 'dynamodb') as DynamoDbProvider;
  jvmPid = dynamodb.backend?.pid ?? 0;
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  await runtime?.stop();
});

const clientConfig = (): { endpoint: string; region: string; credentials: typeof LOCAL_CREDENTIALS } => ({
  endpoint: runtime.endpoint,
  region: runtime.region,
  credentials: LOCAL_CREDENTIALS,
});

/** A token signed with the deployed JWT secret, read through the runtime's Secrets Manager. */
async function tokenFor(role: Role): Promise<string> {
  const client = new SecretsManagerClient(clientConfig());
  const { SecretString } = await client.send(
    new GetSecretValueCommand({ SecretId: runtime.outputs.JwtSecretArn }),
  );
  client.destroy();
  return signToken({ sub: `it-${role}`, role, ttlSeconds: 600 }, keyFromSecret(SecretString ?? ''));
}

function sample(name: string): string {
  return readFileSync(join(PROJECT_DIR, 'events', 'samples', name), 'utf8');
}

describe('boot', () => {
  it('reports every service running on the health route', async () => {
    const response = await fetch(`${runtime.endpoint}/_aws/health`);
    const body = (await response.json()) as { services: Record<string, string> };
    expect(response.status).toBe(200);
    expect(body.services).toEqual({
      'execute-api': 'running',
      lambda: 'running',
      sqs: 'running',
      states: 'running',
      events: 'running',
      dynamodb: 'running',
      secretsmanager: 'running',
      sts: 'running',
    });
  });

  it('lists the no-op and unknown resource types once each', () => {
    const noOp = logs.filter((line) => line.startsWith('no-op types'));
    const unknown = logs.filter((line) => line.startsWith('UNKNOWN types'));
    expect(noOp).toHaveLength(1);
    expect(noOp[0]).toContain('AWS::IAM::Role');
    expect(noOp[0]).toContain('AWS::KMS::Key');
    expect(unknown).toEqual(['UNKNOWN types (skipped, placeholder values): none']);
  });

  it('resolves the outputs against deployed resources, with the REST URL in its local form', () => {
    expect(runtime.outputs.TableName).toMatch(/^MasterOrchestrator-Table[A-Z0-9]+-[A-Z0-9]{12}$/);
    expect(runtime.outputs.JwtSecretArn).toMatch(
      new RegExp(`^arn:aws:secretsmanager:${runtime.region}:${LOCAL_ACCOUNT_ID}:secret:`),
    );
    expect(runtime.outputs.RestApiUrl).toMatch(
      new RegExp(`^${runtime.endpoint}/_aws/execute-api/[a-z0-9]+/v1/$`.replaceAll('.', '\\.')),
    );
  });
});

describe('the REST API, end to end', () => {
  it('accepts POST issues with an operator token: 202 with the workflow id and assignment', async () => {
    // Prepare
    const token = await tokenFor('operator');

    // Act
    const response = await fetch(`${runtime.outputs.RestApiUrl}api/orchestrator/issues`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: sample('issue-triage-request.json'),
    });

    // Assess
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({
      workflow_id: expect.any(String),
      assignment: expect.objectContaining({ execution_order: expect.any(Array) }),
    });
  });

  it('registers an agent with an admin token and lists it with GET agents', async () => {
    // Prepare
    const token = await tokenFor('admin');
    const registration = JSON.parse(sample('agent-registration.json')) as { agent_id: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    // Act
    const registered = await fetch(`${runtime.outputs.RestApiUrl}api/orchestrator/agents`, {
      method: 'POST',
      headers,
      body: JSON.stringify(registration),
    });
    const listed = await fetch(`${runtime.outputs.RestApiUrl}api/orchestrator/agents`, { headers });

    // Assess
    expect(registered.status).toBeLessThan(300);
    expect(listed.status).toBe(200);
    const { agents } = (await listed.json()) as { agents: { agent_id: string }[] };
    expect(agents.map((agent) => agent.agent_id)).toContain(registration.agent_id);
  });

  it('refuses POST issues without a token', async () => {
    const response = await fetch(`${runtime.outputs.RestApiUrl}api/orchestrator/issues`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: sample('issue-triage-request.json'),
    });
    expect(response.status).toBe(401);
  });
});

describe('DynamoDB', () => {
  it('lists the stack table through the AWS CLI', async () => {
    const result = await runAwsCli(runtime.endpoint, ['dynamodb', 'list-tables']);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).TableNames).toContain(runtime.outputs.TableName);
  });

  it('creates the table as the template describes it: keys, GSI1, on-demand billing, TTL', async () => {
    // Prepare
    const client = new DynamoDBClient(clientConfig());
    const TableName = runtime.outputs.TableName;

    // Act
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName }));
    client.destroy();

    // Assess
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['GSI1']);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(TimeToLiveDescription).toMatchObject({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' });
  });

  it('proxies reads and writes from the SDK unchanged', async () => {
    const client = new DynamoDBClient(clientConfig());
    const TableName = runtime.outputs.TableName;
    const Key = { PK: { S: 'IT#runtime' }, SK: { S: 'v1' } };
    await client.send(new PutItemCommand({ TableName, Item: { ...Key, note: { S: 'ünïcode ✓' } } }));
    const { Item } = await client.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }));
    client.destroy();
    expect(Item?.note).toEqual({ S: 'ünïcode ✓' });
  });
});

describe('usage counters (GET /_aws/usage)', () => {
  async function usage(): Promise<UsageCounters> {
    const response = await fetch(`${runtime.endpoint}${USAGE_PATH}`);
    expect(response.status).toBe(200);
    return (await response.json()) as UsageCounters;
  }
  const units = (counters: UsageCounters) =>
    counters.services.dynamodb as { read_units: number; write_units: number };

  it('meters DynamoDB capacity units while the SDK and the CLI see the answers they asked for', async () => {
    // Prepare
    const client = new DynamoDBClient(clientConfig());
    const TableName = runtime.outputs.TableName;
    const key = (sk: string) => ({ PK: { S: 'IT#usage' }, SK: { S: sk } });
    const before = await usage();

    // Act
    const put = await client.send(new PutItemCommand({ TableName, Item: { ...key('a'), n: { N: '1' } } }));
    await client.send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName, Item: key('b') } }, { Put: { TableName, Item: key('c') } }],
      }),
    );
    const read = await client.send(
      new GetItemCommand({ TableName, Key: key('a'), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    const cli = await runAwsCli(runtime.endpoint, [
      'dynamodb',
      'get-item',
      '--table-name',
      String(TableName),
      '--key',
      JSON.stringify(key('a')),
    ]);
    client.destroy();
    const after = await usage();

    // Assess: a put of one small item is 1 unit, a transaction of two is 2 x 2, a strong read 1,
    // the CLI's eventually consistent read 0.5.
    expect(put.ConsumedCapacity).toBeUndefined();
    expect(read.ConsumedCapacity).toMatchObject({ TableName, CapacityUnits: 1 });
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout)).toEqual({ Item: { ...key('a'), n: { N: '1' } } });
    expect(units(after).write_units - units(before).write_units).toBe(5);
    expect(units(after).read_units - units(before).read_units).toBe(1.5);
    const requests = (counters: UsageCounters, operation: string) =>
      counters.requests.dynamodb?.[operation] ?? 0;
    expect(requests(after, 'PutItem') - requests(before, 'PutItem')).toBe(1);
    expect(requests(after, 'GetItem') - requests(before, 'GetItem')).toBe(2);
  });

  it('counts each API request and the Lambda invocations behind it, with billed GB-seconds', async () => {
    // Prepare
    const token = await tokenFor('viewer');
    type LambdaUsage = { invocations: number; gb_seconds: number; billed_ms: number };
    const before = await usage();

    // Act
    const response = await fetch(`${runtime.outputs.RestApiUrl}api/orchestrator/agents`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const after = await usage();

    // Assess
    expect(response.status).toBe(200);
    const invoked = (counters: UsageCounters) => counters.requests['execute-api']?.Invoke ?? 0;
    expect(invoked(after) - invoked(before)).toBe(1);
    const lambda = (counters: UsageCounters) => counters.services.lambda as unknown as LambdaUsage;
    expect(lambda(after).invocations - lambda(before).invocations).toBeGreaterThanOrEqual(1);
    expect(lambda(after).billed_ms).toBeGreaterThan(lambda(before).billed_ms);
    expect(lambda(after).gb_seconds).toBeGreaterThan(lambda(before).gb_seconds);
  });
});

describe('Secrets Manager', () => {
  it('lists the JWT secret through the AWS CLI', async () => {
    const result = await runAwsCli(runtime.endpoint, ['secretsmanager', 'list-secrets']);
    expect(result.stderr).toBe('');
    const arns = JSON.parse(result.stdout).SecretList.map((secret: { ARN: string }) => secret.ARN);
    expect(arns).toContain(runtime.outputs.JwtSecretArn);
  });

  it('generated the secret from GenerateSecretString and recorded its rotation schedule', async () => {
    // Prepare
    const client = new SecretsManagerClient(clientConfig());
    const SecretId = runtime.outputs.JwtSecretArn;

    // Act
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId }));
    const described = await client.send(new DescribeSecretCommand({ SecretId }));
    client.destroy();

    // Assess: PasswordLength 64, ExcludePunctuation.
    expect(SecretString).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(described.RotationEnabled).toBe(true);
    expect(described.RotationRules?.ScheduleExpression).toBe('rate(30 days)');
    expect(described.RotationLambdaARN).toMatch(/^arn:aws:lambda:/);
  });
});

describe('STS', () => {
  it('answers get-caller-identity for the AWS CLI and the SDK', async () => {
    const cli = await runAwsCli(runtime.endpoint, ['sts', 'get-caller-identity']);
    const sts = new STSClient(clientConfig());
    const sdk = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(JSON.parse(cli.stdout)).toMatchObject({ Account: LOCAL_ACCOUNT_ID });
    expect(sdk).toMatchObject({ Account: LOCAL_ACCOUNT_ID, Arn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root` });
  });
});

describe('SQS, Step Functions and Lambda behind the same edge', () => {
  it('answers the AWS CLI for SQS, Step Functions and Lambda', async () => {
    const [sqs, states, lambda] = await Promise.all([
      runAwsCli(runtime.endpoint, ['sqs', 'list-queues']),
      runAwsCli(runtime.endpoint, ['stepfunctions', 'list-state-machines']),
      runAwsCli(runtime.endpoint, ['lambda', 'list-functions']),
    ]);
    expect([sqs.code, states.code, lambda.code]).toEqual([0, 0, 0]);
    expect(JSON.parse(states.stdout).stateMachines).toEqual(expect.any(Array));
    const functions = JSON.parse(lambda.stdout).Functions as { FunctionName: string }[];
    expect(functions.length).toBe(
      [...runtime.resources.values()].filter((resource) => resource.type === 'AWS::Lambda::Function').length,
    );
  });
});

describe('requests nothing serves', () => {
  it('rejects an unknown query-protocol operation with an AWS-shaped error the CLI understands', async () => {
    const result = await runAwsCli(runtime.endpoint, ['sns', 'list-topics']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('(UnknownOperationException)');
    expect(result.stderr).toContain('sns ListTopics is not supported by the offline runtime');
  });

  it('rejects an unknown JSON-protocol operation naming the service and operation', async () => {
    // Prepare
    const request = {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.ListStreams',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
    };

    // Act
    const response = await fetch(`${runtime.endpoint}/`, request);

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await response.json()).toEqual({
      __type: 'UnknownOperationException',
      message: 'kinesis ListStreams is not supported by the offline runtime',
    });
    expect(logs.some((line) => line.includes('400 kinesis ListStreams'))).toBe(true);
  });
});

describe('stop', () => {
  it('stops DynamoDB Local and closes the edge, and is idempotent', async () => {
    // Prepare
    expect(jvmPid).toBeGreaterThan(0);

    // Act
    await runtime.stop();
    await runtime.stop();

    // Assess
    expect(() => process.kill(jvmPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(fetch(`${runtime.endpoint}/_aws/health`)).rejects.toThrow();
  });
});
