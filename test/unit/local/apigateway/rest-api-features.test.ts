/**
 * What the stack's API does not exercise: AWS's built-in gateway responses, routing
 * precedence ({param}, {proxy+}, ANY), TOKEN authorizers, stage variables, binary media
 * types, the Host form of the URL, CDK's CORS preflight (MOCK + VTL), and the pieces
 * (VTL, policy matching) on their own.
 */
import type { APIGatewayProxyEvent, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { evaluatePolicy, wildcardMatch } from '#local/runtime/providers/apigateway/authorizer';
import { parseExecuteApiPath } from '#local/runtime/providers/apigateway/router';
import { renderVtl, VtlMap } from '#local/runtime/providers/apigateway/vtl';
import corsFixture from './cors-preflight-method.json';
import {
  type DeployedApi,
  deployApiGateway,
  executeApiRequest,
  functionArn,
  InProcessLambda,
  jsonOf,
  loadSynthesizedTemplate,
  logicalIdOf,
  type Template,
} from './stack-fixture';

const api = { Ref: 'Api' };
const proxy = (fn: string) => ({
  Type: 'AWS_PROXY',
  IntegrationHttpMethod: 'POST',
  Uri: {
    'Fn::Join': [
      '',
      [
        'arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/',
        { 'Fn::GetAtt': [fn, 'Arn'] },
        '/invocations',
      ],
    ],
  },
});
const resource = (parent: unknown, pathPart: string) => ({
  Type: 'AWS::ApiGateway::Resource',
  Properties: { RestApiId: api, ParentId: parent, PathPart: pathPart },
});
const method = (resourceId: unknown, httpMethod: string, extra: Record<string, unknown> = {}) => ({
  Type: 'AWS::ApiGateway::Method',
  Properties: {
    RestApiId: api,
    ResourceId: resourceId,
    HttpMethod: httpMethod,
    AuthorizationType: 'NONE',
    Integration: proxy('Echo'),
    ...extra,
  },
});

/** A small API with no gateway responses of its own, so AWS's defaults apply. */
const MINI: Template = {
  Resources: {
    Echo: { Type: 'AWS::Lambda::Function', Properties: {} },
    TokenFn: { Type: 'AWS::Lambda::Function', Properties: {} },
    Api: { Type: 'AWS::ApiGateway::RestApi', Properties: { Name: 'mini', BinaryMediaTypes: ['image~1png'] } },
    Items: resource({ 'Fn::GetAtt': ['Api', 'RootResourceId'] }, 'items'),
    Mine: resource({ Ref: 'Items' }, 'mine'),
    ItemId: resource({ Ref: 'Items' }, '{id}'),
    Greedy: resource({ 'Fn::GetAtt': ['Api', 'RootResourceId'] }, '{proxy+}'),
    ItemsGet: method({ Ref: 'Items' }, 'GET'),
    MineGet: method({ Ref: 'Mine' }, 'GET'),
    ItemIdGet: method({ Ref: 'ItemId' }, 'GET'),
    GreedyAny: method({ Ref: 'Greedy' }, 'ANY'),
    ItemsPost: method({ Ref: 'Items' }, 'POST', {
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: 'TokenAuth' },
      RequestValidatorId: { Ref: 'Params' },
      RequestParameters: {
        'method.request.querystring.kind': true,
        'method.request.header.X-Optional': false,
      },
    }),
    TokenAuth: {
      Type: 'AWS::ApiGateway::Authorizer',
      Properties: {
        RestApiId: api,
        Name: 'token',
        Type: 'TOKEN',
        IdentitySource: 'method.request.header.X-Token',
        IdentityValidationExpression: '^tok-',
        AuthorizerResultTtlInSeconds: 0,
        AuthorizerUri: proxy('TokenFn').Uri,
      },
    },
    Params: {
      Type: 'AWS::ApiGateway::RequestValidator',
      Properties: { RestApiId: api, ValidateRequestParameters: true, ValidateRequestBody: false },
    },
    Deployment: {
      Type: 'AWS::ApiGateway::Deployment',
      Properties: { RestApiId: api },
      DependsOn: ['ItemsGet', 'MineGet', 'ItemIdGet', 'GreedyAny', 'ItemsPost'],
    },
    Stage: {
      Type: 'AWS::ApiGateway::Stage',
      Properties: {
        RestApiId: api,
        StageName: 'dev',
        DeploymentId: { Ref: 'Deployment' },
        Variables: { env: 'test' },
      },
    },
    Unused: { Type: 'AWS::ApiGateway::Account', Properties: {} },
  },
};

let lambda: InProcessLambda;
let mini: DeployedApi;
let echoBehaviour: 'echo' | 'binary' | 'throw' = 'echo';

const get = (path: string, headers: Record<string, string> = {}) =>
  mini.provider.handle(executeApiRequest(mini, 'GET', path, { headers }));
const echoed = (response: { body?: string | Buffer }) => jsonOf(response) as unknown as APIGatewayProxyEvent;

beforeAll(async () => {
  lambda = new InProcessLambda();
  lambda.register(functionArn('Echo'), async (event) => {
    if (echoBehaviour === 'throw') throw new Error('echo failed');
    if (echoBehaviour === 'binary')
      return {
        statusCode: 200,
        headers: { 'content-type': 'image/png' },
        body: Buffer.from([1, 2, 3]).toString('base64'),
        isBase64Encoded: true,
      };
    return { statusCode: 200, body: JSON.stringify(event) };
  });
  lambda.register(functionArn('TokenFn'), async (event) => {
    const { authorizationToken, methodArn } = event as APIGatewayTokenAuthorizerEvent;
    if (authorizationToken === 'tok-bad') throw new Error('Unauthorized');
    return {
      principalId: 'token-user',
      policyDocument: {
        Version: '2012-10-17',
        Statement: { Action: 'execute-api:*', Effect: 'Allow', Resource: methodArn },
      },
      context: { tier: 3, admin: false },
    };
  });
  mini = await deployApiGateway(MINI, lambda);
});

beforeEach(() => {
  lambda.calls.length = 0;
  echoBehaviour = 'echo';
});

describe("AWS's built-in gateway responses", () => {
  it('answers an API without gateway responses with 403 "Missing Authentication Token" for no route', async () => {
    // Act
    const response = await mini.provider.handle(executeApiRequest(mini, 'POST', '/'));

    // Assess
    expect(response.status).toBe(403);
    expect(jsonOf(response)).toEqual({ message: 'Missing Authentication Token' });
    expect(response.headers?.['x-amzn-ErrorType']).toBe('MissingAuthenticationTokenException');
  });

  it('answers a function error with 502 {"message": "Internal server error"}', async () => {
    // Prepare
    echoBehaviour = 'throw';

    // Act
    const response = await get('/items');

    // Assess
    expect(response.status).toBe(502);
    expect(jsonOf(response)).toEqual({ message: 'Internal server error' });
  });

  it('rejects a missing required query string parameter with 400', async () => {
    // Act
    const response = await mini.provider.handle(
      executeApiRequest(mini, 'POST', '/items', { headers: { 'X-Token': 'tok-1' } }),
    );

    // Assess
    expect(response.status).toBe(400);
    expect(jsonOf(response)).toEqual({ message: 'Missing required request parameters: [kind]' });
  });
});

describe('routing', () => {
  it.each([
    ['/items', '/items', null],
    ['/items/mine', '/items/mine', null],
    ['/items/42', '/items/{id}', { id: '42' }],
    ['/items/a%20b', '/items/{id}', { id: 'a%20b' }],
    ['/elsewhere/a/b', '/{proxy+}', { proxy: 'elsewhere/a/b' }],
    ['//items//mine/', '/items/mine', null],
  ])('routes GET %s to %s', async (path, resourcePath, pathParameters) => {
    // Act
    const event = echoed(await get(path));

    // Assess
    expect(event.resource).toBe(resourcePath);
    expect(event.requestContext.resourcePath).toBe(resourcePath);
    expect(event.pathParameters).toEqual(pathParameters);
  });

  it('falls back to a greedy ANY resource when the specific one lacks the method', async () => {
    // Act
    const response = await mini.provider.handle(executeApiRequest(mini, 'DELETE', '/items/mine'));

    // Assess
    expect(echoed(response)).toMatchObject({
      resource: '/{proxy+}',
      pathParameters: { proxy: 'items/mine' },
      httpMethod: 'DELETE',
    });
  });

  it('passes the stage variables and also serves the Host form of the URL', async () => {
    // Prepare
    const request = {
      ...executeApiRequest(mini, 'GET', '/items'),
      path: '/dev/items',
      headers: { host: `${mini.apiId}.execute-api.localhost.localstack.cloud:4566` },
    };

    // Act
    const matched = mini.provider.matches(request);
    const event = echoed(await mini.provider.handle(request));

    // Assess
    expect(matched).toBe(true);
    expect(event.stageVariables).toEqual({ env: 'test' });
    expect(event.requestContext.domainName).toBe(`${mini.apiId}.execute-api.localhost.localstack.cloud:4566`);
  });

  it('reads the execute-api path form', () => {
    // Assess
    expect(parseExecuteApiPath('/_aws/execute-api/abc/v1/a/b')).toEqual({
      apiId: 'abc',
      stage: 'v1',
      path: '/a/b',
    });
    expect(parseExecuteApiPath('/_aws/execute-api/abc/v1')).toEqual({ apiId: 'abc', stage: 'v1', path: '/' });
    expect(parseExecuteApiPath('/_aws/execute-api/')).toBeUndefined();
    expect(parseExecuteApiPath('/restapis')).toBeUndefined();
  });
});

describe('TOKEN authorizers', () => {
  const post = (headers: Record<string, string>) =>
    mini.provider.handle(executeApiRequest(mini, 'POST', '/items', { headers, query: 'kind=a' }));

  it('rejects a token that fails IdentityValidationExpression without invoking the function', async () => {
    // Act
    const response = await post({ 'X-Token': 'nope' });

    // Assess
    expect(response.status).toBe(401);
    expect(jsonOf(response)).toEqual({ message: 'Unauthorized' });
    expect(lambda.callsTo(functionArn('TokenFn'))).toHaveLength(0);
  });

  it('sends the TOKEN event and, with a TTL of 0, asks on every request', async () => {
    // Act
    await post({ 'X-Token': 'tok-1' });
    const response = await post({ 'X-Token': 'tok-1' });

    // Assess
    expect(response.status).toBe(200);
    const calls = lambda.callsTo(functionArn('TokenFn'));
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({
      type: 'TOKEN',
      authorizationToken: 'tok-1',
      methodArn: `arn:aws:execute-api:us-east-1:000000000000:${mini.apiId}/dev/POST/items`,
    });
    expect(echoed(response).requestContext.authorizer).toEqual({
      principalId: 'token-user',
      tier: '3',
      admin: 'false',
      integrationLatency: expect.any(Number),
    });
  });

  it('rejects a token the function calls Unauthorized with 401', async () => {
    // Act
    const response = await post({ 'X-Token': 'tok-bad' });

    // Assess
    expect(response.status).toBe(401);
  });
});

describe('binary media types', () => {
  it('base64-encodes a binary request body and decodes a binary response the client accepts', async () => {
    // Prepare
    const request = executeApiRequest(mini, 'PUT', '/upload', {
      headers: { 'content-type': 'image/png' },
      body: Buffer.from([0xff, 0x00, 0x7f]),
    });

    // Act
    const event = echoed(await mini.provider.handle(request));
    echoBehaviour = 'binary';
    const png = await get('/items', { accept: 'image/png' });
    const text = await get('/items', { accept: 'application/json' });

    // Assess
    expect(event).toMatchObject({
      body: Buffer.from([0xff, 0x00, 0x7f]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(png.body).toEqual(Buffer.from([1, 2, 3]));
    expect(text.body).toBe(Buffer.from([1, 2, 3]).toString('base64'));
  });
});

describe("CDK's CORS preflight (MOCK integration)", () => {
  let cors: DeployedApi;

  beforeAll(async () => {
    const template = loadSynthesizedTemplate();
    const health = logicalIdOf(template, 'AWS::ApiGateway::Resource', 'RestApiapiorchestratorhealth');
    const preflight = structuredClone(corsFixture.Resource) as Template['Resources'][string];
    template.Resources.TestPreflightRoot = preflight;
    template.Resources.TestPreflightHealth = {
      ...structuredClone(preflight),
      Properties: { ...preflight.Properties, ResourceId: { Ref: health } },
    };
    cors = await deployApiGateway(template, new InProcessLambda());
  });

  it.each([
    ['https://b.example', 'https://b.example'],
    ['https://a.example', 'https://a.example'],
    ['https://evil.example', 'https://a.example'],
  ])(
    'answers OPTIONS from Origin %s with 204 and Access-Control-Allow-Origin %s',
    async (origin, allowed) => {
      // Act
      const response = await cors.provider.handle(
        executeApiRequest(cors, 'OPTIONS', '/api/orchestrator/health', { headers: { Origin: origin } }),
      );

      // Assess
      expect(response.status).toBe(204);
      expect(response.body).toBe('');
      expect(response.headers).toMatchObject({
        'Access-Control-Allow-Origin': allowed,
        'Access-Control-Allow-Methods': 'GET,POST,DELETE,OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization,Content-Type,Idempotency-Key',
        'Access-Control-Max-Age': '3600',
        Vary: 'Origin',
      });
    },
  );
});

describe('renderVtl', () => {
  it('substitutes references, quiet and braced ones included, and renders missing ones empty', () => {
    // Act
    // \u0024 is `$`: a braced VTL reference, written so it is not mistaken for a JS template.
    const out = renderVtl(
      '{"m":$context.error.messageString,"id":"\u0024{context.requestId}","x":"$!nothing.here"}',
      {
        context: { requestId: 'r-1', error: { messageString: '"Unauthorized"' } },
      },
    );

    // Assess
    expect(out).toBe('{"m":"Unauthorized","id":"r-1","x":""}');
  });

  it('runs #set, #if / #elseif / #else with comparisons and logic, dropping directive-only lines', () => {
    // Prepare
    const template = [
      '#set($n = $input.params().header.get("X-Count"))',
      '#if($n == "2" && !($n == "3"))',
      '  two',
      '#elseif($n eq "3")',
      '  three',
      '#else',
      '  other',
      '#end',
      '## a comment',
      '#* a block',
      'comment *#done',
    ].join('\n');
    const scope = (count: string) => ({
      input: { params: () => new VtlMap([['header', new VtlMap([['x-count', count]], true)]]) },
    });

    // Act
    const outputs = ['2', '3', '4'].map((count) => renderVtl(template, scope(count)));

    // Assess
    expect(outputs).toEqual(['  two\ndone', '  three\ndone', '  other\ndone']);
  });

  it('writes #set on a nested path into the scope, hyphenated names included', () => {
    // Prepare
    const scope: Record<string, unknown> = { context: { responseOverride: { header: {} } } };

    // Act
    renderVtl(
      '#set($context.responseOverride.header.Access-Control-Allow-Origin = "https://x")\n#set($context.responseOverride.status = 418)',
      scope,
    );

    // Assess
    expect(scope.context).toEqual({
      responseOverride: { header: { 'Access-Control-Allow-Origin': 'https://x' }, status: 418 },
    });
  });

  it('keeps a lone $ or # and unsupported directives as text', () => {
    // Act
    const out = renderVtl('cost: $5 # note #foreach', {});

    // Assess
    expect(out).toBe('cost: $5 # note #foreach');
  });

  it('rejects an #if without #end', () => {
    // Assess
    expect(() => renderVtl('#if(true) x', {})).toThrow('missing #end');
  });
});

describe('policy evaluation', () => {
  const arn = 'arn:aws:execute-api:us-east-1:000000000000:abc/v1/POST/api/orchestrator/issues';
  const statement = (effect: 'Allow' | 'Deny', resource: string, action = 'execute-api:Invoke') => ({
    effect,
    actions: [action],
    resources: [resource],
  });

  it.each([
    ['arn:aws:execute-api:us-east-1:000000000000:abc/v1/*/*', true],
    ['arn:aws:execute-api:us-east-1:000000000000:abc/v1/POST/api/*', true],
    ['arn:aws:execute-api:*:*:abc/v?/POST/*', true],
    ['*', true],
    ['arn:aws:execute-api:us-east-1:000000000000:abc/v1/GET/*', false],
    ['arn:aws:execute-api:us-east-1:000000000000:abc/v1/POST/api', false],
  ])('matches %s against the method ARN: %s', (resource, expected) => {
    // Assess
    expect(wildcardMatch(resource, arn)).toBe(expected);
  });

  it('lets an explicit Deny win over an Allow, and matches nothing for other actions', () => {
    // Assess
    expect(evaluatePolicy([statement('Allow', '*'), statement('Deny', `${arn.slice(0, -6)}*`)], arn)).toBe(
      'Deny',
    );
    expect(evaluatePolicy([statement('Allow', '*', 'execute-api:*')], arn)).toBe('Allow');
    expect(evaluatePolicy([statement('Allow', '*', 's3:GetObject')], arn)).toBeUndefined();
  });
});
