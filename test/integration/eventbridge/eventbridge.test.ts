/**
 * EventBridge over the wire: the real SDK `EventBridgeClient` and the AWS CLI, through the
 * real edge, with the real SQS provider as the rule target.
 */
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  ResourceNotFoundException,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type Edge, startEdge } from '#local/runtime/edge';
import {
  createEventBridgeProvider,
  type EventBridgeProvider,
  type ScheduleClock,
} from '#local/runtime/providers/eventbridge';
import { createSqsProvider } from '#local/runtime/providers/sqs';
import { LOCAL_CREDENTIALS, type Provider, type ServiceRegistry } from '#local/runtime/types';
import { runAwsCli } from '../local/aws-cli';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

/** Captures schedule timers so a test fires rate(1 minute) without waiting a minute. */
const timers: { callback: () => void; ms: number }[] = [];
const clock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => timers.push({ callback, ms }),
  clearTimeout: () => {},
};

let edge: Edge;
let events: EventBridgeProvider;
let providers: Provider[];
let eventBridge: EventBridgeClient;
let sqs: SQSClient;

beforeAll(async () => {
  events = createEventBridgeProvider({ clock });
  providers = [createSqsProvider(), events];
  const services: ServiceRegistry = {
    get: (name) => providers.find((provider) => provider.service === name),
  };
  edge = await startEdge({ port: 0, providers, log: () => {} });
  for (const provider of providers) {
    await provider.start?.({
      region: REGION,
      accountId: ACCOUNT,
      endpoint: edge.endpoint,
      assemblyDir: 'cdk.out',
      services,
      log: () => {},
    });
  }
  const client = { endpoint: edge.endpoint, region: REGION, credentials: LOCAL_CREDENTIALS };
  eventBridge = new EventBridgeClient(client);
  sqs = new SQSClient(client);
});

afterAll(async () => {
  eventBridge.destroy();
  sqs.destroy();
  for (const provider of providers) await provider.stop?.();
  await edge.close();
});

async function queue(name: string): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return { url: QueueUrl ?? '', arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}` };
}

async function receive(url: string, waitSeconds = 2): Promise<unknown[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }),
  );
  return Messages.map((message) => JSON.parse(message.Body ?? 'null'));
}

describe('EventBridge through the edge', () => {
  it('routes a matching PutEvents entry to an SQS target as the AWS envelope, and not a non-matching one', async () => {
    // Prepare
    const target = await queue('eb-orders');
    const { RuleArn } = await eventBridge.send(
      new PutRuleCommand({
        Name: 'big-orders',
        EventPattern: JSON.stringify({ source: ['shop'], detail: { total: [{ numeric: ['>=', 100] }] } }),
      }),
    );
    await eventBridge.send(
      new PutTargetsCommand({ Rule: 'big-orders', Targets: [{ Id: 'q', Arn: target.arn }] }),
    );

    // Act
    const put = await eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'shop',
            DetailType: 'OrderPlaced',
            Detail: '{"total":120}',
            Time: new Date('2026-01-05T10:00:00Z'),
          },
          { Source: 'shop', DetailType: 'OrderPlaced', Detail: '{"total":5}' },
        ],
      }),
    );
    await events.settled();
    const delivered = await receive(target.url);

    // Assert
    expect(RuleArn).toBe(`arn:aws:events:${REGION}:${ACCOUNT}:rule/big-orders`);
    expect(put.FailedEntryCount).toBe(0);
    expect(put.Entries).toHaveLength(2);
    expect(delivered).toEqual([
      {
        version: '0',
        id: put.Entries?.[0]?.EventId,
        'detail-type': 'OrderPlaced',
        source: 'shop',
        account: ACCOUNT,
        time: '2026-01-05T10:00:00Z',
        region: REGION,
        resources: [],
        detail: { total: 120 },
      },
    ]);
  });

  it('describes rules and targets, tests patterns, and answers AWS-shaped errors', async () => {
    // Act
    const described = await eventBridge.send(new DescribeRuleCommand({ Name: 'big-orders' }));
    const targets = await eventBridge.send(new ListTargetsByRuleCommand({ Rule: 'big-orders' }));
    const tested = await eventBridge.send(
      new TestEventPatternCommand({
        EventPattern: '{"source":[{"prefix":"sh"}]}',
        Event: JSON.stringify({
          id: '1',
          account: ACCOUNT,
          source: 'shop',
          time: '2026-01-05T10:00:00Z',
          region: REGION,
          'detail-type': 'x',
          detail: {},
        }),
      }),
    );
    const missing = await eventBridge
      .send(new DescribeRuleCommand({ Name: 'nope' }))
      .catch((error: unknown) => error);

    // Assert
    expect(described).toMatchObject({ Name: 'big-orders', State: 'ENABLED', EventBusName: 'default' });
    expect(targets.Targets?.map((target) => target.Id)).toEqual(['q']);
    expect(tested.Result).toBe(true);
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect((missing as Error).message).toBe('Rule nope does not exist on EventBus default.');
  });

  it('fires a rate(1 minute) rule when its timer runs', async () => {
    // Prepare
    const target = await queue('eb-tick');
    await eventBridge.send(new PutRuleCommand({ Name: 'tick', ScheduleExpression: 'rate(1 minute)' }));
    await eventBridge.send(new PutTargetsCommand({ Rule: 'tick', Targets: [{ Id: 'q', Arn: target.arn }] }));
    const timer = timers.at(-1);

    // Act
    timer?.callback();
    await events.settled();
    const delivered = await receive(target.url);

    // Assert
    expect(timer?.ms).toBeGreaterThan(59_000);
    expect(delivered).toEqual([
      expect.objectContaining({
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/tick`],
        detail: {},
      }),
    ]);
  });

  it('takes put-events from the AWS CLI', async () => {
    // Prepare
    const target = await queue('eb-cli');
    await eventBridge.send(new PutRuleCommand({ Name: 'cli', EventPattern: '{"source":["cli"]}' }));
    await eventBridge.send(new PutTargetsCommand({ Rule: 'cli', Targets: [{ Id: 'q', Arn: target.arn }] }));

    // Act
    const result = await runAwsCli(edge.endpoint, [
      'events',
      'put-events',
      '--entries',
      JSON.stringify([{ Source: 'cli', DetailType: 'FromCli', Detail: '{"ok":true}' }]),
    ]);
    await events.settled();
    const delivered = await receive(target.url);

    // Assert
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ FailedEntryCount: 0 });
    expect(delivered).toEqual([
      expect.objectContaining({ source: 'cli', 'detail-type': 'FromCli', detail: { ok: true } }),
    ]);
  }, 30_000);
});
