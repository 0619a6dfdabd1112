/**
 * Conformance of the DynamoDB Local that global-setup.ts booted, over the real SDK v3
 * (endpoint from AWS_ENDPOINT_URL_DYNAMODB, as handlers get it) and the AWS CLI.
 */
import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { GSI1, keys, TTL_ATTRIBUTE, VERSION_ATTRIBUTE } from '#shared/table-design';
import { requireEnv, runAwsCli } from './aws-cli';

const tableName = requireEnv('TABLE_NAME');
const endpoint = requireEnv('AWS_ENDPOINT_URL_DYNAMODB');
// No endpoint or region here: both come from the environment, as in a deployed handler.
const client = new DynamoDBClient({});
const documents = DynamoDBDocumentClient.from(client);

afterAll(() => {
  client.destroy();
});

describe('the integration environment', () => {
  it('reaches the test process through the variables global setup published', () => {
    // Assess
    expect(process.env).toMatchObject({
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      TABLE_NAME: 'master-orchestrator-it',
      POWERTOOLS_SERVICE_NAME: 'master-orchestrator',
      POWERTOOLS_METRICS_NAMESPACE: 'MasterOrchestrator',
      POWERTOOLS_DEV: 'false',
      POWERTOOLS_TRACE_ENABLED: 'false',
      LOG_LEVEL: 'WARN',
    });
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(requireEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(requireEnv('JWT_SECRET_ARN')).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:master-orchestrator-jwt-[A-Za-z0-9]{6}$/,
    );
  });
});

describe('DynamoDB Local over the SDK', () => {
  it('lists the table built from the table design', async () => {
    // Act
    const { TableNames } = await client.send(new ListTablesCommand({}));

    // Assess
    expect(TableNames).toContain(tableName);
  });

  it('describes the keys, GSI1, on-demand billing and TTL exactly as the design says', async () => {
    // Act
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );

    // Assess
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(Table?.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'PK', AttributeType: 'S' },
        { AttributeName: 'SK', AttributeType: 'S' },
        { AttributeName: 'GSI1PK', AttributeType: 'S' },
        { AttributeName: 'GSI1SK', AttributeType: 'S' },
      ]),
    );
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.GlobalSecondaryIndexes).toHaveLength(1);
    expect(Table?.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: GSI1.indexName,
      IndexStatus: 'ACTIVE',
      KeySchema: [
        { AttributeName: 'GSI1PK', KeyType: 'HASH' },
        { AttributeName: 'GSI1SK', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    });
    expect(TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: TTL_ATTRIBUTE });
  });

  it('serves the sparse GSI1 to a Query', async () => {
    // Prepare
    const partition = `TEST#${randomUUID()}`;
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...keys.agent(randomUUID()), GSI1PK: partition, GSI1SK: 'b' },
      }),
    );
    await documents.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...keys.agent(randomUUID()), GSI1PK: partition, GSI1SK: 'a' },
      }),
    );
    await documents.send(new PutCommand({ TableName: tableName, Item: keys.agent(randomUUID()) }));

    // Act
    const { Items } = await documents.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: GSI1.indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
        ExpressionAttributeValues: { ':pk': partition },
      }),
    );

    // Assess
    expect(Items?.map((item) => item.GSI1SK)).toEqual(['a', 'b']);
  });

  it('rejects a TransactWriteItems whose condition fails, writes nothing, and says which item failed', async () => {
    // Prepare
    const workflowId = randomUUID();
    const workflow = keys.workflow(workflowId);
    const issue = keys.workflowIssue(workflowId, 'I-1');

    // Act
    const failure = await documents
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: tableName, Item: { ...workflow, status: 'PENDING' } } },
            {
              Put: {
                TableName: tableName,
                Item: { ...issue, title: 'disk full' },
                ConditionExpression: 'attribute_exists(PK)',
              },
            },
          ],
        }),
      )
      .catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(TransactionCanceledException);
    expect(
      (failure as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code),
    ).toEqual(['None', 'ConditionalCheckFailed']);
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: workflow, ConsistentRead: true }),
    );
    expect(stored.Item).toBeUndefined();
  });

  it('fails a conditional update on a stale version with ConditionalCheckFailedException', async () => {
    // Prepare
    const agent = keys.agent(randomUUID());
    await documents.send(
      new PutCommand({ TableName: tableName, Item: { ...agent, [VERSION_ATTRIBUTE]: 1, load: 0 } }),
    );
    const heartbeat = (load: number) =>
      new UpdateCommand({
        TableName: tableName,
        Key: agent,
        UpdateExpression: 'SET #load = :load, #version = #version + :one',
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#load': 'load', '#version': VERSION_ATTRIBUTE },
        ExpressionAttributeValues: { ':load': load, ':one': 1, ':expected': 1 },
      });
    await documents.send(heartbeat(3));

    // Act
    const conflict = await documents.send(heartbeat(7)).catch((error: unknown) => error);

    // Assess
    expect(conflict).toBeInstanceOf(ConditionalCheckFailedException);
    const stored = await documents.send(
      new GetCommand({ TableName: tableName, Key: agent, ConsistentRead: true }),
    );
    expect(stored.Item).toMatchObject({ [VERSION_ATTRIBUTE]: 2, load: 3 });
  });
});

describe('DynamoDB Local over the AWS CLI', () => {
  it('answers `aws dynamodb list-tables`', async () => {
    // Act
    const result = await runAwsCli(endpoint, ['dynamodb', 'list-tables']);

    // Assess
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ TableNames: expect.arrayContaining([tableName]) });
  }, 20_000);
});
