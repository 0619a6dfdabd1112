/**
 * The Lambda API of the offline runtime over the wire: the real SDK v3 `LambdaClient`
 * and the AWS CLI against the runtime's edge (local/runtime/edge.ts) serving only the
 * Lambda provider, plus the stack's real `health` function run from its esbuild bundle
 * in the cloud assembly.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  LambdaServiceException,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { type Edge, startEdge } from '#local/runtime/edge';
import { createLambdaProvider, type LambdaProvider } from '#local/runtime/providers/lambda';
import type { ResolvedResource } from '#local/runtime/types';
import {
  ACCOUNT_ID,
  CREDENTIALS,
  captureLog,
  deployContext,
  fixtureFunction,
  REGION,
} from '../../fixtures/lambda/harness';
import { runAwsCli } from '../local/aws-cli';

const ROOT = resolve(__dirname, '..', '..', '..');
const STACK = 'MasterOrchestrator';

const decode = (payload?: Uint8Array): unknown => JSON.parse(Buffer.from(payload ?? []).toString('utf8'));

async function rejection(promise: Promise<unknown>): Promise<LambdaServiceException> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => {
      if (!(error instanceof LambdaServiceException)) throw error;
      return error;
    },
  );
}

async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the Lambda API over the SDK and the CLI', () => {
  const output = captureLog();
  let edge: Edge;
  let provider: LambdaProvider;
  let client: LambdaClient;
  let echo: string;
  let fail: string;

  beforeAll(async () => {
    provider = createLambdaProvider();
    edge = await startEdge({ port: 0, providers: [provider], log: output.log });
    const context = deployContext(edge.endpoint, output.log);
    const deploy = async (resource: ResolvedResource): Promise<string> =>
      (await provider.deploy?.(resource, context))?.ref ?? '';
    echo = await deploy(fixtureFunction('ApiEcho', { handler: 'echo.handler', variables: { STAGE: 'it' } }));
    fail = await deploy(fixtureFunction('ApiFail', { handler: 'fail.handler' }));
    await provider.deploy?.(
      {
        logicalId: 'ApiMapping',
        type: 'AWS::Lambda::EventSourceMapping',
        properties: {
          FunctionName: echo,
          EventSourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:api-queue`,
          BatchSize: 3,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        },
        metadata: {},
      },
      context,
    );
    client = new LambdaClient({ endpoint: edge.endpoint, region: REGION, credentials: CREDENTIALS });
  });

  afterAll(async () => {
    client?.destroy();
    await provider?.stop?.();
    await edge?.close();
  });

  it('invokes RequestResponse and returns the payload', async () => {
    // Act
    const response = await client.send(
      new InvokeCommand({ FunctionName: echo, Payload: Buffer.from(JSON.stringify({ hello: 'sdk' })) }),
    );

    // Assess
    expect(response).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(response.FunctionError).toBeUndefined();
    expect(decode(response.Payload)).toMatchObject({
      event: { hello: 'sdk' },
      env: { STAGE: 'it', AWS_ENDPOINT_URL: edge.endpoint },
    });
  });

  it('invokes by ARN, returns the log tail, and reports the ARN the caller used', async () => {
    // Prepare
    const arn = `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${echo}`;

    // Act
    const response = await client.send(
      new InvokeCommand({ FunctionName: arn, LogType: 'Tail', Payload: Buffer.from('{"tail":true}') }),
    );

    // Assess
    const log = Buffer.from(response.LogResult ?? '', 'base64').toString('utf8');
    expect(log).toMatch(/^START RequestId: \S+ Version: \$LATEST\n/);
    expect(log).toContain('\tINFO\techo {"tail":true}\n');
    expect(log).toMatch(/END RequestId: \S+\nREPORT RequestId: \S+\tDuration: [\d.]+ ms/);
    expect(decode(response.Payload)).toMatchObject({ context: { invokedFunctionArn: arn } });
  });

  it("reports a handler's error as FunctionError Unhandled with Lambda's error document", async () => {
    // Act
    const response = await client.send(
      new InvokeCommand({ FunctionName: fail, Payload: Buffer.from('{"id":7}') }),
    );

    // Assess
    expect(response.StatusCode).toBe(200);
    expect(response.FunctionError).toBe('Unhandled');
    expect(decode(response.Payload)).toEqual({
      errorType: 'ValidationError',
      errorMessage: 'rejected 7',
      trace: expect.arrayContaining([expect.stringContaining('ValidationError: rejected 7')]),
    });
  });

  it('accepts an Event invocation with 202 and runs it in the background', async () => {
    // Prepare
    const marker = `async-${Date.now()}`;

    // Act
    const response = await client.send(
      new InvokeCommand({
        FunctionName: echo,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ marker })),
      }),
    );

    // Assess
    expect(response.StatusCode).toBe(202);
    expect(response.Payload?.length ?? 0).toBe(0);
    await eventually(() => output.lines.some((line) => line.includes(marker)));
  });

  it('answers a DryRun with 204 and runs nothing', async () => {
    // Prepare
    const before = output.lines.length;

    // Act
    const response = await client.send(new InvokeCommand({ FunctionName: echo, InvocationType: 'DryRun' }));

    // Assess
    expect(response.StatusCode).toBe(204);
    // Every run logs START first; END and REPORT lines of the background invocation
    // from the previous test may still arrive, so only a new START would mean a run.
    expect(output.lines.slice(before).filter((line) => line.includes('START RequestId'))).toEqual([]);
  });

  it('rejects an unknown function with ResourceNotFoundException (404)', async () => {
    // Act
    const error = await rejection(
      client.send(new InvokeCommand({ FunctionName: 'it-missing', Payload: Buffer.from('{}') })),
    );

    // Assess
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.$metadata.httpStatusCode).toBe(404);
    expect(error.message).toBe(
      `Function not found: arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:it-missing`,
    );
  });

  it('rejects a payload that is not JSON with InvalidRequestContentException (400)', async () => {
    // Act
    const error = await rejection(
      client.send(new InvokeCommand({ FunctionName: echo, Payload: Buffer.from('{nope') })),
    );

    // Assess
    expect(error.name).toBe('InvalidRequestContentException');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('fails an operation it does not implement with a message naming it', async () => {
    // Act
    const error = await rejection(client.send(new DeleteFunctionCommand({ FunctionName: echo })));

    // Assess
    expect(error.name).toBe('InternalFailure');
    expect(error.$metadata.httpStatusCode).toBe(501);
    expect(error.message).toContain('does not implement lambda DeleteFunction');
  });

  it('lists functions and describes one with its template configuration', async () => {
    // Act
    const listed = await client.send(new ListFunctionsCommand({}));
    const described = await client.send(new GetFunctionCommand({ FunctionName: echo }));
    const configuration = await client.send(new GetFunctionConfigurationCommand({ FunctionName: echo }));

    // Assess
    expect(listed.Functions?.map((fn) => fn.FunctionName)).toEqual(expect.arrayContaining([echo, fail]));
    expect(described.Configuration).toMatchObject({
      FunctionName: echo,
      FunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${echo}`,
      Handler: 'echo.handler',
      Runtime: 'nodejs20.x',
      Timeout: 5,
      MemorySize: 256,
      State: 'Active',
      Environment: { Variables: { STAGE: 'it' } },
    });
    expect(configuration).toMatchObject({ FunctionName: echo, Version: '$LATEST' });
    expect(configuration.CodeSize).toBeGreaterThan(0);
  });

  it('lists the event source mappings of a function', async () => {
    // Act
    const { EventSourceMappings } = await client.send(
      new ListEventSourceMappingsCommand({ FunctionName: echo }),
    );

    // Assess
    expect(EventSourceMappings).toEqual([
      expect.objectContaining({
        EventSourceArn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:api-queue`,
        BatchSize: 3,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        State: 'Enabled',
      }),
    ]);
  });

  it('works with `aws lambda invoke --endpoint-url`, writing the payload file', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cli-'));
    const input = join(dir, 'event.json');
    const outfile = join(dir, 'out.json');
    writeFileSync(input, JSON.stringify({ from: 'cli' }));

    try {
      // Act
      const invoked = await runAwsCli(edge.endpoint, [
        'lambda',
        'invoke',
        '--function-name',
        echo,
        '--payload',
        `fileb://${input}`,
        outfile,
      ]);
      const failed = await runAwsCli(edge.endpoint, ['lambda', 'invoke', '--function-name', fail, outfile]);
      const missing = await runAwsCli(edge.endpoint, [
        'lambda',
        'get-function',
        '--function-name',
        'it-absent',
      ]);

      // Assess
      expect(invoked).toMatchObject({ code: 0 });
      expect(JSON.parse(invoked.stdout)).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
      expect(failed.code).toBe(0);
      expect(JSON.parse(failed.stdout)).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
      expect(JSON.parse(readFileSync(outfile, 'utf8'))).toMatchObject({ errorType: 'ValidationError' });
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('ResourceNotFoundException');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the payload of a successful CLI invocation to the outfile', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'lambda-cli-'));
    const outfile = join(dir, 'out.json');

    try {
      // Act
      const result = await runAwsCli(edge.endpoint, ['lambda', 'invoke', '--function-name', echo, outfile]);

      // Assess
      expect(result.code).toBe(0);
      expect(JSON.parse(readFileSync(outfile, 'utf8'))).toMatchObject({ event: {}, env: { STAGE: 'it' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- the real health function

/**
 * The cloud assembly with the stack's bundles: `cdk.out` when it is there (`npx cdk
 * synth`), else a synth into `.local/` (a clean clone in CI). It stays inside the
 * project, so the bundles' external `@aws-sdk/*` resolve from its node_modules.
 */
function cloudAssembly(): Promise<string> {
  const existing = join(ROOT, 'cdk.out');
  if (healthResource(existing)) return Promise.resolve(existing);
  const outdir = join(ROOT, '.local', 'lambda-it.cdk.out');
  return new Promise((resolveDir, reject) => {
    execFile(
      'npx',
      ['cdk', 'synth', '--quiet', '--output', outdir],
      { cwd: ROOT, timeout: 110_000, env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`cdk synth failed: ${stderr}`, { cause: error }));
        else resolveDir(outdir);
      },
    );
  });
}

/** The health function's resource as the template loader resolves it (plain strings only). */
function healthResource(assemblyDir: string): ResolvedResource | undefined {
  const templateFile = join(assemblyDir, `${STACK}.template.json`);
  if (!existsSync(templateFile)) return undefined;
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
    >;
  };
  const entry = Object.entries(template.Resources).find(
    ([, resource]) =>
      resource.Type === 'AWS::Lambda::Function' &&
      String(resource.Metadata?.['aws:cdk:path'] ?? '').includes('/HealthFunction/'),
  );
  if (!entry) return undefined;
  const [logicalId, resource] = entry;
  const metadata = resource.Metadata ?? {};
  if (!existsSync(join(assemblyDir, String(metadata['aws:asset:path'])))) return undefined;
  return {
    logicalId,
    type: resource.Type,
    // LoggingConfig.LogGroup is a Ref the loader resolves to the log group's name.
    properties: { ...resource.Properties, LoggingConfig: { LogGroup: `/aws/lambda/${logicalId}` } },
    metadata,
  };
}

function healthEvent(requestId: string): Record<string, unknown> {
  const path = '/api/orchestrator/health';
  return {
    resource: path,
    path,
    httpMethod: 'GET',
    headers: { accept: 'application/json' },
    multiValueHeaders: { accept: ['application/json'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: 'itapi00002',
      stage: 'v1',
      requestId,
      httpMethod: 'GET',
      path: `/v1${path}`,
      resourcePath: path,
      resourceId: 'res001',
      protocol: 'HTTP/1.1',
      requestTimeEpoch: Date.now(),
      identity: { sourceIp: '127.0.0.1' },
      authorizer: null,
    },
  };
}

describe('the real health function from the cloud assembly', () => {
  const output = captureLog();
  let edge: Edge;
  let provider: LambdaProvider;
  let client: LambdaClient;
  let name: string;

  beforeAll(async () => {
    const assemblyDir = await cloudAssembly();
    const resource = healthResource(assemblyDir);
    if (!resource) throw new Error(`no health function bundle in ${assemblyDir}`);
    provider = createLambdaProvider();
    edge = await startEdge({ port: 0, providers: [provider], log: output.log });
    const deployed = await provider.deploy?.(resource, {
      ...deployContext(edge.endpoint, output.log),
      assemblyDir,
      stackName: STACK,
    });
    name = deployed?.ref ?? '';
    client = new LambdaClient({ endpoint: edge.endpoint, region: REGION, credentials: CREDENTIALS });
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await provider?.stop?.();
    await edge?.close();
  });

  it('answers 200 with the liveness report, cold then warm', async () => {
    // Act
    const cold = await provider.invoke(name, healthEvent('health-1'));
    const warm = await client.send(
      new InvokeCommand({
        FunctionName: name,
        Payload: Buffer.from(JSON.stringify(healthEvent('health-2'))),
      }),
    );

    // Assess
    expect(cold).toMatchObject({ ok: true, coldStart: true, payload: { statusCode: 200 } });
    expect(warm.FunctionError).toBeUndefined();
    const proxyResult = decode(warm.Payload) as { statusCode: number; body: string };
    expect(proxyResult.statusCode).toBe(200);
    expect(JSON.parse(proxyResult.body)).toMatchObject({ status: 'ok', service: 'master-orchestrator' });
    expect(output.lines).toContainEqual(expect.stringMatching(/REPORT RequestId: .*\tInit Duration: /));
  });

  it('runs with the environment from the template', async () => {
    // Act
    const { Configuration } = await client.send(new GetFunctionCommand({ FunctionName: name }));

    // Assess
    expect(Configuration).toMatchObject({
      Handler: 'index.handler',
      Timeout: 10,
      MemorySize: 512,
      Environment: {
        Variables: expect.objectContaining({
          POWERTOOLS_SERVICE_NAME: 'master-orchestrator',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
    expect(name).toMatch(/^MasterOrchestrator-RestApiHealthFunction/);
  });
});
