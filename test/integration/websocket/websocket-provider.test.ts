/**
 * The API Gateway WebSocket provider over the wire: a real `ws` client and the real SDK
 * v3 `ApiGatewayManagementApiClient` against the edge, with the real Lambda provider
 * running the handlers in test/fixtures/websocket/handlers.
 */

import { join } from 'node:path';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocket } from 'ws';
import { type Edge, startEdge } from '#local/runtime/edge';
import { createApiGatewayRestProvider } from '#local/runtime/providers/apigateway-rest';
import { createApiGatewayWebSocketProvider } from '#local/runtime/providers/apigateway-websocket';
import { createLambdaProvider, type LambdaProvider } from '#local/runtime/providers/lambda';
import type { DeployContext, Provider, ResolvedResource } from '#local/runtime/types';
import { ACCOUNT_ID, CREDENTIALS, captureLog, fixtureFunction, REGION } from '../../fixtures/lambda/harness';
import { runAwsCli } from '../local/aws-cli';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'websocket');
const STAGE = 'dev';

interface Call {
  readonly fn: string;
  readonly event: { requestContext: Record<string, unknown>; body?: string };
}

function resource(logicalId: string, type: string, properties: Record<string, unknown>): ResolvedResource {
  return { logicalId, type: `AWS::ApiGatewayV2::${type}`, properties, metadata: {} };
}

async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the API Gateway WebSocket provider', () => {
  const output = captureLog();
  const calls: Call[] = [];
  const sockets: WebSocket[] = [];
  let lambda: LambdaProvider;
  let websocket: ReturnType<typeof createApiGatewayWebSocketProvider>;
  let edge: Edge;
  let apiId: string;
  let management: ApiGatewayManagementApiClient;
  let context: DeployContext;

  const url = (query = '') =>
    `${edge.endpoint.replace('http', 'ws')}/_aws/execute-api/${apiId}/${STAGE}${query}`;

  /** Opens a connection; rejects with the HTTP status when the upgrade is refused. */
  const connect = (query: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url(query));
      sockets.push(ws);
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_request, response) => {
        reject(new Error(`HTTP ${response.statusCode}`));
        response.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });

  const nextMessage = (ws: WebSocket) =>
    new Promise<string>((resolve) => ws.once('message', (data) => resolve(data.toString())));

  const connectionIdOf = async (ws: WebSocket): Promise<string> => {
    ws.send(JSON.stringify({ action: 'ping' }));
    return (JSON.parse(await nextMessage(ws)) as { connectionId: string }).connectionId;
  };

  beforeAll(async () => {
    lambda = createLambdaProvider({ maxConcurrency: 2 });
    websocket = createApiGatewayWebSocketProvider();
    const providers: Provider[] = [websocket, createApiGatewayRestProvider(), lambda];
    edge = await startEdge({ port: 0, providers, log: output.log });
    context = {
      region: REGION,
      accountId: ACCOUNT_ID,
      endpoint: edge.endpoint,
      assemblyDir: FIXTURES,
      stackName: 'WebSocketIt',
      services: {
        lambda: {
          invoke: (fn, event) => {
            calls.push({ fn, event: event as Call['event'] });
            return lambda.invoke(fn, event);
          },
        },
        get: () => undefined,
      },
      log: output.log,
    };
    const deploy = async (r: ResolvedResource) => {
      const provider = providers.find((p) => p.resourceTypes.includes(r.type));
      const deployed = await provider?.deploy?.(r, context);
      if (!deployed) throw new Error(`nothing deployed ${r.logicalId}`);
      return deployed;
    };
    const arns: Record<string, string> = {};
    for (const name of ['authorizer', 'connect', 'route', 'disconnect']) {
      const deployed = await deploy(fixtureFunction(name, { handler: `${name}.handler` }));
      arns[name] = deployed.attributes?.Arn ?? '';
    }
    const uri = (arn?: string) =>
      `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn}/invocations`;

    const api = await deploy(
      resource('Api', 'Api', {
        Name: 'progress',
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: '$request.body.action',
      }),
    );
    apiId = api.ref;
    const authorizer = await deploy(
      resource('Auth', 'Authorizer', {
        ApiId: apiId,
        AuthorizerType: 'REQUEST',
        Name: 'auth',
        AuthorizerUri: uri(arns.authorizer),
        IdentitySource: ['route.request.querystring.token'],
      }),
    );
    const integration = async (name: string) =>
      (
        await deploy(
          resource(`${name}Integration`, 'Integration', {
            ApiId: apiId,
            IntegrationType: 'AWS_PROXY',
            IntegrationUri: uri(arns[name]),
          }),
        )
      ).ref;
    const connectId = await integration('connect');
    const routeId = await integration('route');
    const disconnectId = await integration('disconnect');
    await deploy(
      resource('Connect', 'Route', {
        ApiId: apiId,
        RouteKey: '$connect',
        AuthorizationType: 'CUSTOM',
        AuthorizerId: authorizer.ref,
        Target: `integrations/${connectId}`,
      }),
    );
    await deploy(
      resource('Disconnect', 'Route', {
        ApiId: apiId,
        RouteKey: '$disconnect',
        Target: `integrations/${disconnectId}`,
      }),
    );
    for (const key of ['ping', '$default']) {
      const route = await deploy(
        resource(`Route${key}`, 'Route', {
          ApiId: apiId,
          RouteKey: key,
          Target: `integrations/${routeId}`,
          RouteResponseSelectionExpression: '$default',
        }),
      );
      await deploy(
        resource(`Response${key}`, 'RouteResponse', {
          ApiId: apiId,
          RouteId: route.ref,
          RouteResponseKey: '$default',
        }),
      );
    }
    await deploy(resource('Stage', 'Stage', { ApiId: apiId, StageName: STAGE, AutoDeploy: true }));
    management = new ApiGatewayManagementApiClient({
      endpoint: `${edge.endpoint}/_aws/execute-api/${apiId}/${STAGE}`,
      region: REGION,
      credentials: CREDENTIALS,
    });
  }, 15_000);

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    if (process.env.WS_DEBUG) console.log(output.lines.join('\n'));
    management?.destroy();
    await websocket?.stop?.();
    await edge?.close();
    await lambda?.stop?.();
  });

  it('deploys a WebSocket API with an AWS-shaped id and endpoint, and refuses an HTTP API', async () => {
    // Assess
    expect(apiId).toMatch(/^[a-z0-9]{10}$/);
    await expect(
      websocket.deploy?.(resource('Http', 'Api', { Name: 'http', ProtocolType: 'HTTP' }), context),
    ).rejects.toThrow(/ProtocolType HTTP is not supported offline/);
  });

  it('runs the authorizer and $connect on a valid token, with the authorizer context', async () => {
    // Act
    const ws = await connect('?token=good');
    const id = await connectionIdOf(ws);

    // Assess
    const connectCall = calls.find(
      (call) =>
        !call.fn.includes('authorizer') &&
        call.event.requestContext.eventType === 'CONNECT' &&
        call.event.requestContext.connectionId === id,
    );
    expect(connectCall?.event.requestContext).toMatchObject({
      routeKey: '$connect',
      apiId,
      stage: STAGE,
      authorizer: { principalId: 'user-1', role: 'operator' },
    });
    expect(connectCall?.event).toMatchObject({ queryStringParameters: { token: 'good' } });
    ws.close();
  });

  it.each([
    ['a missing token', '', 'HTTP 401'],
    ['a bad token', '?token=bad', 'HTTP 401'],
    ['a denied token', '?token=deny', 'HTTP 403'],
    ['a $connect that answers 403', '?token=good&refuse=1', 'HTTP 403'],
  ])('refuses the upgrade on %s', async (_case, query, status) => {
    await expect(connect(query)).rejects.toThrow(status);
  });

  it('refuses a missing token with 401 without invoking the authorizer', async () => {
    // Arrange
    const authorizerCalls = () => calls.filter((call) => call.fn.includes('authorizer')).length;
    const before = authorizerCalls();

    // Act
    const refused = connect('?other=1').catch((error: Error) => error.message);

    // Assess
    expect(await refused).toBe('HTTP 401');
    expect(authorizerCalls()).toBe(before);
  });

  it('routes {"action":"ping"} to ping and sends its two-way response back', async () => {
    // Arrange
    const ws = await connect('?token=good');

    // Act
    ws.send(JSON.stringify({ action: 'ping' }));
    const reply = JSON.parse(await nextMessage(ws));

    // Assess
    expect(reply).toMatchObject({ route: 'ping' });
    const message = calls.find(
      (call) =>
        call.event.requestContext.eventType === 'MESSAGE' &&
        call.event.requestContext.connectionId === reply.connectionId,
    );
    expect(message?.event.body).toBe('{"action":"ping"}');
    ws.close();
  });

  it.each([['{"action":"nope"}'], ['not json']])('routes %s to $default', async (body) => {
    // Arrange
    const ws = await connect('?token=good');

    // Act
    ws.send(body);

    // Assess
    expect(JSON.parse(await nextMessage(ws))).toMatchObject({ route: '$default' });
    ws.close();
  });

  it('delivers PostToConnection, answers GetConnection, and 410 Gone once the connection is closed', async () => {
    // Arrange
    const ws = await connect('?token=good');
    const id = await connectionIdOf(ws);

    // Act
    const frame = nextMessage(ws);
    await management.send(
      new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"step.started"}') }),
    );
    const info = await management.send(new GetConnectionCommand({ ConnectionId: id }));
    ws.close();
    await eventually(() => !websocket.connectionIds().includes(id));
    const gone = await management
      .send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('x') }))
      .catch((error: unknown) => error);

    // Assess
    expect(await frame).toBe('{"type":"step.started"}');
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');
    expect(gone).toBeInstanceOf(GoneException);
    expect(gone).toMatchObject({ $metadata: { httpStatusCode: 410 } });
  });

  it('counts messages both ways in 32 KB units, and connection time, for usage()', async () => {
    // Arrange
    const before = websocket.usage();
    const ws = await connect('?token=good');
    const id = await connectionIdOf(ws);

    // Act: one message in (the ping) and its reply out, then a 40 KB PostToConnection (2 units).
    ws.send(JSON.stringify({ action: 'ping' }));
    await nextMessage(ws);
    const frame = nextMessage(ws);
    await management.send(
      new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('x'.repeat(40 * 1024)) }),
    );
    await frame;
    ws.close();
    await eventually(() => !websocket.connectionIds().includes(id));
    const after = websocket.usage();

    // Assess
    const delta = (counter: string) => (after[counter] as number) - (before[counter] as number);
    expect(delta('connections')).toBe(1);
    expect(delta('messages_received')).toBeGreaterThanOrEqual(1);
    expect(delta('messages_sent')).toBeGreaterThanOrEqual(2);
    expect(delta('message_units')).toBe(delta('messages_received') + delta('messages_sent') + 1);
    expect(delta('connection_ms')).toBeGreaterThan(0);
  });

  it('delivers post-to-connection from the AWS CLI', async () => {
    // Arrange
    const ws = await connect('?token=good');
    const id = await connectionIdOf(ws);
    const frame = nextMessage(ws);

    // Act
    const cli = await runAwsCli(`${edge.endpoint}/_aws/execute-api/${apiId}/${STAGE}`, [
      'apigatewaymanagementapi',
      'post-to-connection',
      '--connection-id',
      id,
      '--data',
      'from-the-cli',
    ]);

    // Assess
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await frame).toBe('from-the-cli');
    ws.close();
  });

  it('closes the socket on DeleteConnection and runs $disconnect', async () => {
    // Arrange
    const ws = await connect('?token=good');
    const id = await connectionIdOf(ws);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    // Act
    await management.send(new DeleteConnectionCommand({ ConnectionId: id }));

    // Assess
    expect(await closed).toBe(1000);
    await eventually(() =>
      calls.some(
        (call) =>
          call.event.requestContext.eventType === 'DISCONNECT' &&
          call.event.requestContext.connectionId === id,
      ),
    );
  });

  it('closes a connection with 1009 on a message over 128 KB', async () => {
    // Arrange
    const ws = await connect('?token=good');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    // Act
    ws.send('x'.repeat(128 * 1024 + 1));

    // Assess
    expect(await closed).toBe(1009);
  });

  it("answers AWS's Forbidden frame for an unknown action on an API without $default", async () => {
    // Arrange
    const bare = await websocket.deploy?.(
      resource('Bare', 'Api', {
        Name: 'bare',
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: '$request.body.action',
      }),
      context,
    );
    await websocket.deploy?.(resource('BareStage', 'Stage', { ApiId: bare?.ref, StageName: STAGE }), context);
    const ws = new WebSocket(`${edge.endpoint.replace('http', 'ws')}/_aws/execute-api/${bare?.ref}/${STAGE}`);
    sockets.push(ws);
    await new Promise((resolve) => ws.once('open', resolve));

    // Act
    ws.send('{"action":"nope"}');

    // Assess
    expect(JSON.parse(await nextMessage(ws))).toEqual({
      message: 'Forbidden',
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    ws.close();
  });

  it('leaves other execute-api paths to the REST provider and refuses upgrades to unknown APIs', async () => {
    // Act
    const rest = await fetch(`${edge.endpoint}/_aws/execute-api/nosuchapi0/v1/health`);
    const upgrade = connect('').catch((error: Error) => error.message);
    const unknown = new WebSocket(`${edge.endpoint.replace('http', 'ws')}/_aws/execute-api/nosuchapi0/dev`);
    sockets.push(unknown);
    const refused = await new Promise<number | undefined>((resolve) => {
      unknown.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      unknown.once('error', () => resolve(undefined));
    });

    // Assess
    expect(rest.status).toBe(404);
    expect(await rest.json()).toMatchObject({ message: expect.stringContaining('nosuchapi0') });
    expect(await upgrade).toBe('HTTP 401');
    expect(refused).toBe(404);
  });
});
