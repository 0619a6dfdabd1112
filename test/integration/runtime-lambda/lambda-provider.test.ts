/**
 * The Lambda provider in process, as API Gateway and Step Functions call it: real
 * worker threads running the CommonJS handlers in test/fixtures/lambda/handlers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import {
  createLambdaProvider,
  LambdaDeployError,
  LambdaFunctionNotFoundError,
  type LambdaInvocation,
  type LambdaProvider,
  physicalName,
} from '#local/runtime/providers/lambda';
import type { DeployContext } from '#local/runtime/types';
import {
  ACCOUNT_ID,
  captureLog,
  deployContext,
  fixtureFunction,
  HANDLERS_DIR,
  REGION,
  STACK_NAME,
} from '../../fixtures/lambda/harness';

const ENDPOINT = 'http://127.0.0.1:4566';

interface EchoPayload {
  event: unknown;
  env: Record<string, string>;
  threadId: number;
  context: Record<string, unknown>;
}

interface ThreadPayload {
  threadId: number;
}

function okPayload<T>(result: LambdaInvocation): T {
  if (!result.ok) throw new Error(`expected success, got ${result.errorType}: ${result.errorMessage}`);
  return result.payload as T;
}

async function deploy(
  provider: LambdaProvider,
  context: DeployContext,
  ...args: Parameters<typeof fixtureFunction>
): Promise<string> {
  const deployed = await provider.deploy?.(fixtureFunction(...args), context);
  if (!deployed) throw new Error('the provider has no deploy');
  return deployed.ref;
}

describe('the Lambda provider in process', () => {
  const output = captureLog();
  const context = deployContext(ENDPOINT, output.log);
  let provider: LambdaProvider;

  beforeAll(() => {
    provider = createLambdaProvider({ maxConcurrency: 2 });
  });

  afterAll(async () => {
    await provider.stop?.();
  });

  it('names a function like CloudFormation and returns its ARN', async () => {
    // Act
    const generated = await provider.deploy?.(fixtureFunction('Named', { handler: 'echo.handler' }), context);
    const explicit = await provider.deploy?.(
      fixtureFunction('Explicit', { handler: 'echo.handler', functionName: 'it-explicit-name' }),
      context,
    );

    // Assess
    expect(generated?.ref).toBe(physicalName(STACK_NAME, 'Named'));
    expect(generated?.ref).toMatch(/^LambdaIt-Named-[A-Z0-9]{12}$/);
    expect(generated?.attributes?.Arn).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${generated?.ref}`,
    );
    expect(explicit).toEqual({
      ref: 'it-explicit-name',
      attributes: { Arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:it-explicit-name` },
    });
    expect(physicalName('S'.repeat(80), 'Fn')).toHaveLength(64);
  });

  it('gives each function only its own environment and leaves the parent process.env alone', async () => {
    // Prepare
    const parentBefore = { ...process.env };
    const first = await deploy(provider, context, 'EnvA', {
      handler: 'echo.handler',
      variables: { ONLY_A: 'a', NODE_OPTIONS: '--enable-source-maps' },
      memorySize: 384,
      timeout: 7,
    });
    const second = await deploy(provider, context, 'EnvB', {
      handler: 'echo.handler',
      variables: { ONLY_B: 'b' },
    });

    // Act
    const a = okPayload<EchoPayload>(await provider.invoke(first, { n: 1 }));
    const b = okPayload<EchoPayload>(await provider.invoke(second, { n: 2 }));

    // Assess
    expect(a.event).toEqual({ n: 1 });
    expect(Object.keys(a.env).sort()).toEqual(
      [
        'ONLY_A',
        'NODE_OPTIONS',
        'AWS_REGION',
        'AWS_DEFAULT_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_ENDPOINT_URL',
        'AWS_LAMBDA_FUNCTION_NAME',
        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
        'AWS_LAMBDA_FUNCTION_VERSION',
        'AWS_LAMBDA_INITIALIZATION_TYPE',
        'AWS_LAMBDA_LOG_GROUP_NAME',
        'AWS_LAMBDA_LOG_STREAM_NAME',
        'AWS_EXECUTION_ENV',
        'AWS_XRAY_CONTEXT_MISSING',
        'LAMBDA_TASK_ROOT',
        '_HANDLER',
        '_X_AMZN_TRACE_ID',
        'PATH',
      ].sort(),
    );
    expect(a.env).toMatchObject({
      ONLY_A: 'a',
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: ENDPOINT,
      AWS_LAMBDA_FUNCTION_NAME: first,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '384',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
      LAMBDA_TASK_ROOT: HANDLERS_DIR,
      _HANDLER: 'echo.handler',
    });
    expect(a.env._X_AMZN_TRACE_ID).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
    expect(b.env.ONLY_B).toBe('b');
    expect(b.env).not.toHaveProperty('ONLY_A');
    expect(a.env).not.toHaveProperty('ONLY_B');
    // Global setup exported these into the Jest process; no worker may see them.
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBeDefined();
    expect(a.env).not.toHaveProperty('AWS_ENDPOINT_URL_DYNAMODB');
    expect(a.env).not.toHaveProperty('TABLE_NAME');
    expect({ ...process.env }).toEqual(parentBefore);
    expect(process.env).not.toHaveProperty('ONLY_A');
  });

  it('builds the Lambda context object in the worker', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Context', { handler: 'echo.handler', timeout: 7 });
    const arn = `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${name}`;

    // Act
    const result = await provider.invoke(arn, {});
    const payload = okPayload<EchoPayload>(result);

    // Assess
    expect(payload.context).toMatchObject({
      awsRequestId: result.requestId,
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: arn,
      memoryLimitInMB: '256',
      logGroupName: `/aws/lambda/${name}`,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(payload.context.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(payload.context.remainingTimeInMillis).toBeGreaterThan(0);
    expect(payload.context.remainingTimeInMillis).toBeLessThanOrEqual(7000);
    expect(output.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^\\[lambda:${name}\\] \\S+Z\\t${result.requestId}\\tINFO\\techo \\{\\}$`),
      ),
    );
  });

  it('cold-starts a worker once, then reuses it warm with its module cache', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Counter', { handler: 'counter.handler' });

    // Act
    const first = await provider.invoke(name, {});
    const second = await provider.invoke(name, {});
    const third = await provider.invoke(name, {});

    // Assess
    expect(first).toMatchObject({ ok: true, coldStart: true });
    expect(first.initDurationMs).toBeGreaterThan(0);
    expect(second).toMatchObject({ ok: true, coldStart: false });
    expect(second.initDurationMs).toBeUndefined();
    expect(third).toMatchObject({ ok: true, coldStart: false });
    const threads = [first, second, third].map((result) => okPayload<{ threadId: number }>(result).threadId);
    expect(new Set(threads).size).toBe(1);
    expect(okPayload(third)).toMatchObject({ moduleLoads: 1, invocations: 3 });
    for (const result of [first, second, third]) expect(result.durationMs).toBeGreaterThan(0);
    expect(output.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`REPORT RequestId: ${first.requestId}\\tDuration: .*\\tInit Duration: `),
      ),
    );
  });

  it('runs at most maxConcurrency workers per function and queues the rest', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Pool', { handler: 'sleep.handler' });

    // Act
    const results = await Promise.all(Array.from({ length: 5 }, () => provider.invoke(name, { ms: 80 })));

    // Assess
    expect(results.every((result) => result.ok)).toBe(true);
    expect(new Set(results.map((result) => okPayload<ThreadPayload>(result).threadId)).size).toBe(2);
    expect(results.filter((result) => result.coldStart)).toHaveLength(2);
  });

  it('fails with Sandbox.Timedout past the function timeout, then serves the next call on a new worker', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Slow', { handler: 'sleep.handler', timeout: 1 });
    const warm = await provider.invoke(name, { ms: 1 });

    // Act
    const timedOut = await provider.invoke(name, { ms: 5000 });
    const after = await provider.invoke(name, { ms: 1 });

    // Assess
    expect(timedOut).toMatchObject({
      ok: false,
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 1.00 seconds',
      coldStart: false,
    });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(990);
    expect(after).toMatchObject({ ok: true, coldStart: true });
    expect(okPayload<ThreadPayload>(after).threadId).not.toBe(okPayload<ThreadPayload>(warm).threadId);
    expect(output.lines).toContainEqual(
      expect.stringContaining(`${timedOut.requestId} Task timed out after 1.00 seconds`),
    );
  });

  it('stops a handler that blocks its thread when the timeout expires', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Spin', { handler: 'spin.handler', timeout: 1 });

    // Act
    const result = await provider.invoke(name, {});

    // Assess
    expect(result).toMatchObject({ ok: false, errorType: 'Sandbox.Timedout', coldStart: true });
  });

  it('reports a thrown error by its name and message', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Fail', { handler: 'fail.handler' });

    // Act
    const result = await provider.invoke(name, { id: 42 });

    // Assess
    expect(result).toMatchObject({ ok: false, errorType: 'ValidationError', errorMessage: 'rejected 42' });
    expect(output.lines).toContainEqual(
      expect.stringContaining('ERROR\tInvoke Error \t{"errorType":"ValidationError"'),
    );
  });

  it('supports callback-style handlers, for results and errors', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Callback', { handler: 'callback.handler' });

    // Act
    const success = await provider.invoke(name, { value: 'v' });
    const failure = await provider.invoke(name, { fail: true });

    // Assess
    expect(success).toMatchObject({ ok: true, payload: { via: 'callback', echo: 'v' } });
    expect(failure).toMatchObject({ ok: false, errorType: 'TypeError', errorMessage: 'callback failure' });
  });

  it('fails an invocation whose module throws at init, and retries the init on the next call', async () => {
    // Prepare
    const name = await deploy(provider, context, 'BrokenInit', { handler: 'broken-init.handler' });

    // Act
    const first = await provider.invoke(name, {});
    const second = await provider.invoke(name, {});

    // Assess
    for (const result of [first, second]) {
      expect(result).toMatchObject({
        ok: false,
        errorType: 'Error',
        errorMessage: 'cannot read configuration at init',
        coldStart: true,
      });
    }
  });

  it.each([
    [
      'a missing export',
      'echo.notExported',
      'Runtime.HandlerNotFound',
      'echo.notExported is undefined or not exported',
    ],
    ['a missing module', 'absent.handler', 'Runtime.ImportModuleError', "Error: Cannot find module 'absent'"],
  ])('fails with the Lambda runtime error for %s', async (_label, handler, errorType, errorMessage) => {
    // Prepare
    const name = await deploy(provider, context, `Bad${errorType.replace(/\W/g, '')}`, { handler });

    // Act
    const result = await provider.invoke(name, {});

    // Assess
    expect(result).toMatchObject({ ok: false, errorType, errorMessage });
  });

  it('reports Runtime.ExitError when a handler exits its environment, and recovers', async () => {
    // Prepare
    const exits = await deploy(provider, context, 'Exit', { handler: 'exit.handler' });

    // Act
    const result = await provider.invoke(exits, {});
    const again = await provider.invoke(exits, {});

    // Assess
    expect(result).toMatchObject({ ok: false, errorType: 'Runtime.ExitError' });
    if (result.ok) return;
    expect(result.errorMessage).toContain('exit status 3');
    expect(again).toMatchObject({ ok: false, errorType: 'Runtime.ExitError', coldStart: true });
  });

  it('loads an ES module handler (.mjs)', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Esm', { handler: 'esm.handler' });

    // Act
    const result = await provider.invoke(name, { kind: 'esm' });

    // Assess
    expect(result).toMatchObject({ ok: true, payload: { esm: true, event: { kind: 'esm' } } });
  });

  it('writes console output in the JSON log format when LoggingConfig asks for it', async () => {
    // Prepare
    const resource = fixtureFunction('JsonLogs', { handler: 'echo.handler' });
    const deployed = await provider.deploy?.(
      { ...resource, properties: { ...resource.properties, LoggingConfig: { LogFormat: 'JSON' } } },
      context,
    );
    const name = deployed?.ref ?? '';

    // Act
    const result = await provider.invoke(name, { json: 1 });

    // Assess
    const prefix = `[lambda:${name}] `;
    const lines = output.lines.filter((line) => line.startsWith(`${prefix}{`));
    expect(lines.map((line) => JSON.parse(line.slice(prefix.length)))).toContainEqual({
      timestamp: expect.stringMatching(/Z$/),
      level: 'INFO',
      requestId: result.requestId,
      message: 'echo {"json":1}',
    });
  });

  it('finds the code folder from Code.S3Key when there is no asset metadata', async () => {
    // Prepare
    const resource = {
      ...fixtureFunction('FromS3Key', { handler: 'index.handler' }),
      metadata: {},
    };
    const withKey = {
      ...resource,
      properties: {
        ...resource.properties,
        Code: {
          S3Bucket: 'b',
          S3Key: 'f1x7ure0000000000000000000000000000000000000000000000000000000000.zip',
        },
      },
    };

    // Act
    const deployed = await provider.deploy?.(withKey, context);
    const result = await provider.invoke(deployed?.ref ?? '', {});

    // Assess
    expect(result).toMatchObject({ ok: true, payload: 'from the S3Key asset folder' });
  });

  it('rejects a function whose asset folder is missing or whose runtime is not Node.js', async () => {
    // Prepare
    const missing = {
      ...fixtureFunction('Missing', { handler: 'index.handler' }),
      metadata: { 'aws:asset:path': 'asset.does-not-exist' },
    };
    const python = fixtureFunction('Python', { handler: 'index.handler' });
    const pythonResource = { ...python, properties: { ...python.properties, Runtime: 'python3.12' } };

    // Act
    const missingDeploy = provider.deploy?.(missing, context);
    const pythonDeploy = provider.deploy?.(pythonResource, context);

    // Assess
    await expect(missingDeploy).rejects.toThrow(LambdaDeployError);
    await expect(missingDeploy).rejects.toThrow(/asset\.does-not-exist is missing; run `npx cdk synth`/);
    await expect(pythonDeploy).rejects.toThrow(/runtime python3.12 is not supported offline/);
  });

  it('rejects an unknown function or qualifier with ResourceNotFoundException', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Qualified', { handler: 'echo.handler' });

    // Act
    const [unknown, version, latest] = await Promise.allSettled([
      provider.invoke('no-such-function', {}),
      provider.invoke(`${name}:1`, {}),
      provider.invoke(`${name}:$LATEST`, {}),
    ]);

    // Assess
    expect(unknown).toMatchObject({ status: 'rejected', reason: expect.any(LambdaFunctionNotFoundError) });
    expect(unknown).toMatchObject({
      reason: {
        awsErrorType: 'ResourceNotFoundException',
        statusCode: 404,
        message: `Function not found: arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:no-such-function`,
      },
    });
    expect(version).toMatchObject({ status: 'rejected', reason: expect.any(LambdaFunctionNotFoundError) });
    expect(latest).toMatchObject({ status: 'fulfilled', value: { ok: true } });
  });
});

describe('SQS event source mappings', () => {
  const context = deployContext(ENDPOINT, () => {});
  const queueArn = `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:it-work`;
  let provider: LambdaProvider;

  beforeAll(() => {
    provider = createLambdaProvider();
  });

  afterAll(async () => {
    await provider.stop?.();
  });

  const message = (id: string, body: string) => ({
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: 'md5',
    queueArn,
  });

  async function deployMapping(logicalId: string, functionRef: string, extra: Record<string, unknown> = {}) {
    const deployed = await provider.deploy?.(
      {
        logicalId,
        type: 'AWS::Lambda::EventSourceMapping',
        properties: { FunctionName: functionRef, EventSourceArn: queueArn, ...extra },
        metadata: {},
      },
      context,
    );
    if (!deployed) throw new Error('the provider has no deploy');
    return deployed;
  }

  it('records a mapping with its batch size, response types and state, and polls nothing without SQS', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Consumer', { handler: 'sqs-batch.handler' });

    // Act
    const deployed = await deployMapping('ConsumerMapping', name, {
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });

    // Assess
    expect(deployed.attributes?.EventSourceMappingArn).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:event-source-mapping:${deployed.ref}`,
    );
    expect(provider.eventSourceMappings()).toContainEqual(
      expect.objectContaining({
        uuid: deployed.ref,
        functionName: name,
        eventSourceArn: queueArn,
        batchSize: 5,
        reportBatchItemFailures: true,
        enabled: true,
        maximumConcurrency: 2,
      }),
    );
    expect(provider.pollingMappings()).toEqual([]);
  });

  it('returns only the reported failures of a batch with ReportBatchItemFailures', async () => {
    // Prepare
    const name = await deploy(provider, context, 'Partial', { handler: 'sqs-batch.handler' });
    const mapping = await deployMapping('PartialMapping', name, {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });

    // Act
    const outcome = await provider.invokeSqsBatch(mapping.ref, [
      message('m1', 'ok'),
      message('m2', 'fail'),
      message('m3', 'ok'),
    ]);

    // Assess
    expect(outcome.failedMessageIds).toEqual(['m2']);
    expect(outcome.invocation.ok).toBe(true);
  });

  it('fails the whole batch on a handler error, and none without ReportBatchItemFailures', async () => {
    // Prepare
    const failing = await deploy(provider, context, 'Failing', { handler: 'fail.handler' });
    const plain = await deploy(provider, context, 'Plain', { handler: 'sqs-batch.handler' });
    const failingMapping = await deployMapping('FailingMapping', failing, {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const plainMapping = await deployMapping('PlainMapping', plain, { Enabled: false });

    // Act
    const failed = await provider.invokeSqsBatch(failingMapping.ref, [message('a', 'x'), message('b', 'y')]);
    const ignored = await provider.invokeSqsBatch(plainMapping.ref, [message('c', 'fail')]);

    // Assess
    expect(failed.failedMessageIds).toEqual(['a', 'b']);
    expect(ignored.failedMessageIds).toEqual([]);
    expect(provider.eventSourceMappings().find((m) => m.uuid === plainMapping.ref)?.enabled).toBe(false);
  });
});

describe('stopping the provider', () => {
  it('terminates every worker, settles the invocations in flight and refuses new ones', async () => {
    // Prepare
    const provider = createLambdaProvider({ maxConcurrency: 1 });
    const context = deployContext(ENDPOINT, () => {});
    const echo = await deploy(provider, context, 'StopEcho', { handler: 'echo.handler' });
    const slow = await deploy(provider, context, 'StopSlow', { handler: 'sleep.handler', timeout: 30 });
    await provider.invoke(echo, {});
    const running = provider.invoke(slow, { ms: 20_000 });
    const queued = provider.invoke(slow, { ms: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(provider.workerCount()).toBe(2);

    // Act
    await provider.stop?.();

    // Assess
    expect(provider.workerCount()).toBe(0);
    await expect(running).resolves.toMatchObject({ ok: false, errorType: 'Runtime.Stopped' });
    await expect(queued).resolves.toMatchObject({ ok: false, errorType: 'Runtime.Stopped' });
    await expect(provider.invoke(echo, {})).rejects.toThrow('The offline runtime is stopped');
  });
});

describe('idle warm workers', () => {
  it('do not keep the host process alive', async () => {
    // Prepare
    const script = join(__dirname, '..', '..', 'fixtures', 'lambda', 'idle-exit.ts');

    // Act
    const { code, stdout, stderr } = await new Promise<{
      code: number | string;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', script], { timeout: 15_000 }, (error, out, err) => {
        resolve({ code: error ? (error.code ?? error.signal ?? 'error') : 0, stdout: out, stderr: err });
      });
    });

    // Assess
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toBe('ok=true idle workers=1\n');
  });
});
