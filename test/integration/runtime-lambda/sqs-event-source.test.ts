/**
 * An SQS event source mapping end to end: the runtime's edge serving the SQS and Lambda
 * providers, messages sent with the real SDK, the Lambda provider's poller driving the
 * fixture handler, partial batch failures left on the queue until the redrive policy
 * moves them to the DLQ.
 */
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Edge, startEdge } from '#local/runtime/edge';
import { createLambdaProvider, type LambdaProvider } from '#local/runtime/providers/lambda';
import { createSqsProvider, type SqsProvider } from '#local/runtime/providers/sqs';
import type { DeployContext, DeployedResource, Provider, ResolvedResource } from '#local/runtime/types';
import {
  CREDENTIALS,
  captureLog,
  deployContext,
  fixtureFunction,
  REGION,
} from '../../fixtures/lambda/harness';

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('an SQS event source mapping with ReportBatchItemFailures', () => {
  const output = captureLog();
  let sqs: SqsProvider;
  let lambda: LambdaProvider;
  let edge: Edge;
  let client: SQSClient;
  let context: DeployContext;
  let queue: DeployedResource;
  let deadLetters: DeployedResource;
  let mapping: DeployedResource;

  const deploy = async (provider: Provider, resource: ResolvedResource): Promise<DeployedResource> => {
    const deployed = await provider.deploy?.(resource, context);
    if (!deployed) throw new Error(`${provider.service} has no deploy`);
    return deployed;
  };

  beforeAll(async () => {
    sqs = createSqsProvider();
    lambda = createLambdaProvider();
    edge = await startEdge({ port: 0, providers: [sqs, lambda], log: output.log });
    const providers: Provider[] = [sqs, lambda];
    context = {
      ...deployContext(edge.endpoint, output.log),
      services: { lambda, get: (service) => providers.find((provider) => provider.service === service) },
    };
    const { stackName: _stackName, ...startContext } = context;
    await sqs.start?.(startContext);
    await lambda.start?.(startContext);
    deadLetters = await deploy(sqs, {
      logicalId: 'WorkDlq',
      type: 'AWS::SQS::Queue',
      properties: { QueueName: `it-esm-dlq-${Date.now()}` },
      metadata: {},
    });
    queue = await deploy(sqs, {
      logicalId: 'WorkQueue',
      type: 'AWS::SQS::Queue',
      properties: {
        QueueName: `it-esm-work-${Date.now()}`,
        VisibilityTimeout: 1,
        RedrivePolicy: { deadLetterTargetArn: deadLetters.attributes?.Arn, maxReceiveCount: 2 },
      },
      metadata: {},
    });
    const consumer = await deploy(lambda, fixtureFunction('EsmConsumer', { handler: 'sqs-batch.handler' }));
    mapping = await deploy(lambda, {
      logicalId: 'EsmMapping',
      type: 'AWS::Lambda::EventSourceMapping',
      properties: {
        FunctionName: consumer.ref,
        EventSourceArn: queue.attributes?.Arn,
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      },
      metadata: {},
    });
    client = new SQSClient({ endpoint: edge.endpoint, region: REGION, credentials: CREDENTIALS });
  });

  afterAll(async () => {
    client?.destroy();
    await lambda?.stop?.();
    await sqs?.stop?.();
    await edge?.close();
  });

  it('deletes the processed messages and leaves the reported failure to the redrive policy', async () => {
    // Prepare
    expect(lambda.pollingMappings()).toEqual([mapping.ref]);

    // Act
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.ref,
        Entries: [
          { Id: 'first', MessageBody: 'ok-1' },
          { Id: 'poison', MessageBody: 'fail' },
          { Id: 'second', MessageBody: 'ok-2' },
        ],
      }),
    );

    // Assess
    const deadLetter = await eventually(async () => {
      const { Messages } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetters.ref,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return Messages?.[0];
    });
    expect(deadLetter.Body).toBe('fail');
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.ref,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    const reports = output.lines.filter(
      (line) => line.includes('EsmConsumer') && line.includes('REPORT RequestId'),
    );
    expect(reports.length).toBeGreaterThanOrEqual(2);
  });

  it('stops polling on stop()', async () => {
    // Act
    await lambda.stop?.();

    // Assess
    expect(lambda.pollingMappings()).toEqual([]);
    expect(lambda.workerCount()).toBe(0);
  });
});
