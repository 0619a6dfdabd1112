/**
 * The SDK retry policy the handlers' clients use (SDK_RETRY_OPTIONS in
 * functions/shared/clients/retry.ts), over the real SDK and a real HTTP server on 127.0.0.1 that
 * speaks Step Functions' JSON protocol (awsJson1_0) and throttles on demand: a throttled call
 * is retried and succeeds, and one that is always throttled fails after exactly `maxAttempts`
 * requests with the service's ThrottlingException.
 *
 * The SDK waits with full jitter from a 1 s base after a throttling error, so the
 * always-throttled case takes several seconds (at most 1 + 2 + 4 + 8 s); nothing here
 * asserts on time.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SDK_RETRY_OPTIONS } from '#shared/clients/retry';

interface SeenRequest {
  readonly target: string;
  /** `amz-sdk-request: attempt=N; max=M`, which the SDK sends on every attempt. */
  readonly attempt: string;
}

/** Answers the first `throttled` requests with ThrottlingException, the rest as `success` says. */
async function startFakeStepFunctions(throttled: number): Promise<{
  server: Server;
  endpoint: string;
  seen: SeenRequest[];
}> {
  const seen: SeenRequest[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      seen.push({ target, attempt: String(request.headers['amz-sdk-request'] ?? '') });
      response.setHeader('content-type', 'application/x-amz-json-1.0');
      if (seen.length <= throttled) {
        response.statusCode = 400;
        response.setHeader('x-amzn-errortype', 'ThrottlingException');
        response.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
        return;
      }
      response.statusCode = 200;
      response.end(
        target.endsWith('.StartExecution')
          ? JSON.stringify({
              executionArn: 'arn:aws:states:us-east-1:000000000000:execution:recovery:wf-1',
              startDate: 1_700_000_000,
            })
          : '{}',
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}`, seen };
}

let fake: Awaited<ReturnType<typeof startFakeStepFunctions>> | undefined;
let client: SFNClient | undefined;

/** A client built exactly as clients/sfn.ts builds `sfn`, pointed at the fake service. */
function clientFor(endpoint: string): SFNClient {
  client = new SFNClient({
    ...SDK_RETRY_OPTIONS,
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return client;
}

afterEach(async () => {
  client?.destroy();
  client = undefined;
  if (fake) {
    fake.server.close();
    fake.server.closeAllConnections();
    await once(fake.server, 'close');
    fake = undefined;
  }
});

const START = new StartExecutionCommand({
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:recovery',
  name: 'wf-1',
  input: '{"workflow_id":"wf-1"}',
});

const SUCCESS = new SendTaskSuccessCommand({ taskToken: 'token-1', output: '{"ok":true}' });

describe('SDK_RETRY_OPTIONS', () => {
  it('is the standard strategy with 5 attempts', () => {
    expect(SDK_RETRY_OPTIONS).toEqual({ maxAttempts: 5, retryMode: 'standard' });
  });

  it.each([
    ['StartExecution', START],
    ['SendTaskSuccess', SUCCESS],
  ] as const)('retries a throttled %s and succeeds on the third request', async (operation, command) => {
    // Prepare
    fake = await startFakeStepFunctions(2);
    const sfn = clientFor(fake.endpoint);

    // Act
    const output = await sfn.send(command as StartExecutionCommand);

    // Assess
    expect(output.$metadata).toMatchObject({ httpStatusCode: 200, attempts: 3 });
    expect(fake.seen).toEqual(
      [1, 2, 3].map((n) => ({ target: `AWSStepFunctions.${operation}`, attempt: `attempt=${n}; max=5` })),
    );
    if (operation === 'StartExecution') expect(output.executionArn).toContain(':execution:recovery:wf-1');
  });

  it('fails with ThrottlingException after exactly maxAttempts requests when every one is throttled', async () => {
    // Prepare
    fake = await startFakeStepFunctions(Number.POSITIVE_INFINITY);
    const sfn = clientFor(fake.endpoint);

    // Act
    const error = await sfn.send(START).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400, attempts: SDK_RETRY_OPTIONS.maxAttempts },
    });
    expect(fake.seen).toHaveLength(SDK_RETRY_OPTIONS.maxAttempts);
    expect(fake.seen.at(-1)?.attempt).toBe('attempt=5; max=5');
  }, 30_000);
});
