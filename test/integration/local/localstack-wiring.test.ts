/**
 * The dry check of the LocalStack target (issue 8): no Docker, no LocalStack, no network.
 * `cdklocal synth` runs through the npm-installed binary with the environment the deploy
 * script gives it, and the compose file, the scripts and the docs are checked against one
 * another. The commands' preflight checks and the health wait run against a loopback server.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COMPOSE_FILE,
  DEFAULT_ENDPOINT,
  DEFAULT_S3_ENDPOINT,
  decideWebsocket,
  deployArgs,
  EDGE_PORT,
  type Health,
  LocalStackSetupError,
  localStackEnv,
  OUTPUTS_FILE,
  PROJECT_DIR,
  parseHealth,
  probeApiGatewayV2,
  requireAuthToken,
  requireDocker,
  rewriteApiUrls,
  runCommand,
  STACK_NAME,
  waitForHealth,
  websocketSetting,
} from '#local/localstack/localstack';

/** Two synths side by side (about 8 s each alone) with room for a busy machine. */
const SYNTH_TIMEOUT_MS = 150_000;
const CDKLOCAL = join(PROJECT_DIR, 'node_modules', '.bin', 'cdklocal');

interface Template {
  Resources: Record<string, { Type: string }>;
  Outputs?: Record<string, unknown>;
}

interface Synth {
  readonly code: number;
  readonly output: string;
  readonly dir: string;
}

const dirs: string[] = [];

/** The caller's environment without any AWS_* setting, so nothing here can reach a real account. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
}

function runCdklocal(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CDKLOCAL, args, { cwd: PROJECT_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-32 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), SYNTH_TIMEOUT_MS - 10_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

async function synth(context: readonly string[]): Promise<Synth> {
  const dir = mkdtempSync(join(tmpdir(), 'cdklocal-synth-'));
  dirs.push(dir);
  const args = ['synth', '--quiet', '--no-notices', '--output', dir, ...context];
  const { code, output } = await runCdklocal(args, localStackEnv(cleanEnv()));
  return { code, output, dir };
}

const read = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const types = (template: Template): Set<string> =>
  new Set(Object.values(template.Resources).map((resource) => resource.Type));

/** A loopback server answering each request with the next of `answers` (the last one repeats). */
async function serve(answers: ReadonlyArray<{ status: number; body: unknown }>): Promise<{
  url: string;
  paths: string[];
  close: () => Promise<void>;
}> {
  const paths: string[] = [];
  const server: Server = createServer((request, response) => {
    const answer = answers[Math.min(paths.length, answers.length - 1)] ?? { status: 500, body: {} };
    paths.push(request.url ?? '');
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const HEALTH: Health = { services: { apigatewayv2: 'available', lambda: 'running' }, edition: 'pro' };

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('cdklocal synth with the LocalStack environment', () => {
  let full: Synth;
  let restOnly: Synth;

  beforeAll(async () => {
    [full, restOnly] = await Promise.all([synth([]), synth(['-c', 'websocket=false'])]);
  }, SYNTH_TIMEOUT_MS);

  it('synthesizes the stack, WebSocket API included', () => {
    // Act
    const manifest = read<{ artifacts: Record<string, { type: string }> }>(join(full.dir, 'manifest.json'));
    const template = read<Template>(join(full.dir, `${STACK_NAME}.template.json`));

    // Assess
    expect({ code: full.code, output: full.code === 0 ? '' : full.output }).toEqual({ code: 0, output: '' });
    expect(manifest.artifacts[STACK_NAME]?.type).toBe('aws:cloudformation:stack');
    expect([...types(template)]).toEqual(
      expect.arrayContaining(['AWS::ApiGateway::RestApi', 'AWS::ApiGatewayV2::Api', 'AWS::Lambda::Function']),
    );
    expect(Object.keys(template.Outputs ?? {})).toEqual(
      expect.arrayContaining(['RestApiUrl', 'WebSocketUrl']),
    );
  });

  it('drops the WebSocket API and its output with -c websocket=false, and keeps the REST API', () => {
    // Act
    const template = read<Template>(join(restOnly.dir, `${STACK_NAME}.template.json`));

    // Assess
    expect({ code: restOnly.code, output: restOnly.code === 0 ? '' : restOnly.output }).toEqual({
      code: 0,
      output: '',
    });
    expect([...types(template)].filter((type) => type.startsWith('AWS::ApiGatewayV2::'))).toEqual([]);
    expect(types(template).has('AWS::ApiGateway::RestApi')).toBe(true);
    expect(Object.keys(template.Outputs ?? {})).toContain('RestApiUrl');
    expect(Object.keys(template.Outputs ?? {})).not.toContain('WebSocketUrl');
  });

  it('starts LocalStack with every service the synthesized stack uses', () => {
    // Prepare: AWS::ApiGatewayV2::Api -> apigatewayv2, and so on.
    const template = read<Template>(join(full.dir, `${STACK_NAME}.template.json`));
    const compose = readFileSync(join(PROJECT_DIR, COMPOSE_FILE), 'utf8');

    // Act
    const needed = [...types(template)]
      .map((type) => type.split('::')[1]?.toLowerCase() ?? '')
      .filter((service) => service !== 'cdk');
    const started = /SERVICES=\$\{LOCALSTACK_SERVICES:-([a-z0-9,]+)\}/.exec(compose)?.[1]?.split(',') ?? [];

    // Assess
    expect(needed.length).toBeGreaterThan(5);
    expect(started).toEqual(
      expect.arrayContaining([...new Set(needed), 'cloudformation', 's3', 'ssm', 'sts']),
    );
  });
});

describe('cdklocal and the project CLI', () => {
  it('runs the repository’s own aws-cdk CLI', async () => {
    // Prepare
    const pinned = read<{ version: string }>(join(PROJECT_DIR, 'node_modules', 'aws-cdk', 'package.json'));

    // Act
    const { code, output } = await runCdklocal(['--version'], cleanEnv());

    // Assess
    expect(code).toBe(0);
    expect(output).toContain(`cdk cli version v${pinned.version}`);
    expect(pinned.version).toMatch(/^2\./);
  });

  it('rejects AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3 (its patch for this CLI is active)', async () => {
    // Prepare
    const env = { ...cleanEnv(), AWS_ENDPOINT_URL: DEFAULT_ENDPOINT };

    // Act
    const { code, output } = await runCdklocal(['synth', '--quiet'], env);

    // Assess
    expect(code).not.toBe(0);
    expect(output).toContain('AWS_ENDPOINT_URL_S3');
  });
});

describe('the compose file, the scripts and the docs agree', () => {
  const compose = readFileSync(join(PROJECT_DIR, COMPOSE_FILE), 'utf8');
  const pkg = read<{ scripts: Record<string, string>; devDependencies: Record<string, string> }>(
    join(PROJECT_DIR, 'package.json'),
  );
  const readme = readFileSync(join(PROJECT_DIR, 'local', 'localstack', 'README.md'), 'utf8');

  it('pins the image, needs the token, and binds every port to 127.0.0.1 with the edge on EDGE_PORT', () => {
    // Act
    const image = /^\s*image:\s*(\S+)\s*$/m.exec(compose)?.[1] ?? '';
    const ports = [...compose.matchAll(/^\s*-\s*"([^"]*:\d+(?:-\d+)?)"/gm)].map((m) => m[1] ?? '');

    // Assess
    expect(image).toMatch(/^localstack\/localstack:\d{4}\.\d{2}\.\d+$/);
    expect(readme).toContain(image);
    expect(compose).toContain('LOCALSTACK_AUTH_TOKEN=${LOCALSTACK_AUTH_TOKEN:?');
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:/);
    expect(ports).toContain(`127.0.0.1:${EDGE_PORT}:${EDGE_PORT}`);
  });

  it('wires the four npm scripts to existing files and pins aws-cdk-local exactly', () => {
    // Act
    const scripts = ['up', 'deploy', 'e2e', 'down'].map((name) => pkg.scripts[`localstack:${name}`] ?? '');

    // Assess
    expect(scripts).toEqual(['up', 'deploy', 'e2e', 'down'].map((name) => `tsx local/localstack/${name}.ts`));
    for (const name of ['up', 'deploy', 'e2e', 'down'])
      expect(readFileSync(join(PROJECT_DIR, 'local', 'localstack', `${name}.ts`), 'utf8')).toContain(
        `runCommand('${name}'`,
      );
    expect(pkg.devDependencies['aws-cdk-local']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(readme).toContain(OUTPUTS_FILE);
    expect(readme).toContain(`aws-cdk-local ${pkg.devDependencies['aws-cdk-local']}`);
  });

  it('deploys with the outputs file the e2e command reads, without prompts, and the switch', () => {
    // Act
    const withSocket = deployArgs(true);
    const without = deployArgs(false, ['--verbose']);

    // Assess
    expect(withSocket.slice(0, 2)).toEqual(['deploy', STACK_NAME]);
    expect(withSocket.join(' ')).toContain(`--outputs-file ${OUTPUTS_FILE} --require-approval never`);
    expect(withSocket.join(' ')).not.toContain('websocket=false');
    expect(without.join(' ')).toContain('-c websocket=false');
    expect(without.at(-1)).toBe('--verbose');
  });
});

describe('localStackEnv', () => {
  it('sets both endpoints, a region, dummy credentials and the allow-list cdklocal keeps them by', () => {
    // Act
    const env = localStackEnv({ HOME: '/home/x', AWS_PROFILE: 'prod' });

    // Assess
    expect(env).toMatchObject({
      HOME: '/home/x',
      AWS_ENDPOINT_URL: DEFAULT_ENDPOINT,
      AWS_ENDPOINT_URL_S3: DEFAULT_S3_ENDPOINT,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    expect(env.AWS_ENVAR_ALLOWLIST?.split(',')).toEqual(
      expect.arrayContaining(['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_S3_FORCE_PATH_STYLE']),
    );
    expect(DEFAULT_ENDPOINT).toBe('http://localhost.localstack.cloud:4566');
  });

  it('uses LOCALSTACK_ENDPOINT for both endpoints, and LOCALSTACK_REGION', () => {
    // Act
    const env = localStackEnv({
      LOCALSTACK_ENDPOINT: 'http://127.0.0.1:4566/',
      LOCALSTACK_REGION: 'eu-west-1',
    });

    // Assess
    expect(env).toMatchObject({
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566',
      AWS_REGION: 'eu-west-1',
    });
  });
});

describe('the websocket switch', () => {
  it('follows LOCALSTACK_WEBSOCKET when it is true or false, whatever the plan', () => {
    // Act
    const forcedOn = decideWebsocket('true', { services: {} }, undefined);
    const forcedOff = decideWebsocket('false', HEALTH, 200);

    // Assess
    expect([forcedOn.websocket, forcedOff.websocket]).toEqual([true, false]);
  });

  it('keeps the WebSocket API on auto only when the health lists apigatewayv2 and GET /v2/apis answers 200', () => {
    // Act
    const cases = [
      decideWebsocket('auto', HEALTH, 200),
      decideWebsocket('auto', { services: { lambda: 'running' } }, 200),
      decideWebsocket('auto', { services: { apigatewayv2: 'disabled' } }, 200),
      decideWebsocket('auto', HEALTH, 501),
      decideWebsocket('auto', HEALTH, undefined),
    ];

    // Assess
    expect(cases.map((c) => c.websocket)).toEqual([true, false, false, false, false]);
    expect(cases[1]?.reason).toContain('absent');
    expect(cases[3]?.reason).toContain('501');
    for (const off of cases.slice(1)) expect(off.reason).toContain('-c websocket=false');
  });

  it('rejects a LOCALSTACK_WEBSOCKET that is not auto, true or false', () => {
    // Act
    const parsed = ['auto', 'TRUE', 'false'].map((v) => websocketSetting({ LOCALSTACK_WEBSOCKET: v }));

    // Assess
    expect(parsed).toEqual(['auto', 'true', 'false']);
    expect(websocketSetting({})).toBe('auto');
    expect(() => websocketSetting({ LOCALSTACK_WEBSOCKET: 'maybe' })).toThrow(LocalStackSetupError);
  });
});

describe('waitForHealth and probeApiGatewayV2', () => {
  it('polls until the health endpoint answers 200, then parses it', async () => {
    // Prepare
    const server = await serve([
      { status: 503, body: {} },
      { status: 200, body: { services: { sqs: 'running' }, edition: 'pro', version: '2026.9.0' } },
    ]);

    // Act
    const health = await waitForHealth({ endpoint: server.url, timeoutMs: 30_000, intervalMs: 10 }).finally(
      server.close,
    );

    // Assess
    expect(health).toEqual({ services: { sqs: 'running' }, edition: 'pro', version: '2026.9.0' });
    expect(server.paths).toEqual(['/_localstack/health', '/_localstack/health']);
  });

  it('fails when the deadline passes, naming the last answer and the command to run', async () => {
    // Prepare
    const server = await serve([{ status: 503, body: {} }]);

    // Act
    const waited = waitForHealth({ endpoint: server.url, timeoutMs: 200, intervalMs: 20 });

    // Assess
    await expect(waited).rejects.toThrow(/did not answer .*last: HTTP 503.*npm run localstack:up/);
    await server.close();
  });

  it('rejects a health body without a services object', () => {
    // Assess
    expect(() => parseHealth({ status: 'running' })).toThrow('no services');
    expect(() => parseHealth('up')).toThrow('not a JSON object');
  });

  it('reports the status GET /v2/apis answers, or undefined when nothing listens', async () => {
    // Prepare
    const server = await serve([{ status: 501, body: { message: 'not included in your plan' } }]);

    // Act
    const status = await probeApiGatewayV2(server.url, 'us-east-1');
    await server.close();
    const nothing = await probeApiGatewayV2(server.url, 'us-east-1');

    // Assess
    expect(status).toBe(501);
    expect(server.paths).toEqual(['/v2/apis']);
    expect(nothing).toBeUndefined();
  });
});

describe('rewriteApiUrls', () => {
  const outputs = {
    [STACK_NAME]: {
      RestApiUrl: 'https://abc123.execute-api.localhost.localstack.cloud:4566/v1/',
      TableName: 'table',
    },
  };

  it('keeps the outputs as LocalStack wrote them on the default endpoint', () => {
    // Assess
    expect(rewriteApiUrls(outputs, DEFAULT_ENDPOINT)).toBe(outputs);
  });

  it('turns the REST URL into the no-DNS path form on another endpoint', () => {
    // Act
    const rewritten = rewriteApiUrls(outputs, 'http://127.0.0.1:4566');

    // Assess
    expect(rewritten).toEqual({
      [STACK_NAME]: { RestApiUrl: 'http://127.0.0.1:4566/_aws/execute-api/abc123/v1/', TableName: 'table' },
    });
  });
});

describe('the commands’ preflight checks', () => {
  let errors: string[];
  let spy: jest.SpyInstance;
  const emptyPath = mkdtempSync(join(tmpdir(), 'no-docker-'));
  dirs.push(emptyPath);

  beforeEach(() => {
    errors = [];
    spy = jest.spyOn(console, 'error').mockImplementation((line: string) => {
      errors.push(line);
    });
  });

  afterEach(() => spy.mockRestore());

  it('rejects a missing or blank LOCALSTACK_AUTH_TOKEN, naming where to get one', () => {
    // Assess
    expect(() => requireAuthToken({})).toThrow(/LOCALSTACK_AUTH_TOKEN is not set.*app\.localstack\.cloud/);
    expect(() => requireAuthToken({ LOCALSTACK_AUTH_TOKEN: '  ' })).toThrow(LocalStackSetupError);
    expect(requireAuthToken({ LOCALSTACK_AUTH_TOKEN: 'ls-123' })).toBe('ls-123');
  });

  it('fails when docker is not on PATH, naming what to install', () => {
    // Assess
    expect(() => requireDocker({ PATH: emptyPath })).toThrow(/docker is not installed or not on PATH/);
  });

  it.each([
    ['up', {}, /localstack:up: LOCALSTACK_AUTH_TOKEN is not set/],
    ['deploy', {}, /localstack:deploy: LOCALSTACK_AUTH_TOKEN is not set/],
    ['e2e', {}, /localstack:e2e: LOCALSTACK_AUTH_TOKEN is not set/],
    ['up', { LOCALSTACK_AUTH_TOKEN: 'x' }, /localstack:up: docker is not installed/],
    ['down', {}, /localstack:down: docker is not installed/],
  ] as const)(
    'exits 1 from %s with one line when a prerequisite is missing (%j)',
    async (name, extra, line) => {
      // Act
      const code = await runCommand(name, { PATH: emptyPath, ...extra });

      // Assess
      expect(code).toBe(1);
      expect(errors).toEqual([expect.stringMatching(line)]);
    },
  );
});

describe('the commands with a stand-in docker', () => {
  const bin = mkdtempSync(join(tmpdir(), 'fake-docker-'));
  const calls = join(bin, 'calls.log');
  dirs.push(bin);
  let logSpy: jest.SpyInstance;
  let errorSpy: jest.SpyInstance;
  let printed: string[];

  beforeAll(() => {
    // Records each call's arguments and the token compose would see, and succeeds.
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\necho "$*|$LOCALSTACK_AUTH_TOKEN" >> "$DOCKER_CALLS"\n');
    chmodSync(join(bin, 'docker'), 0o755);
  });

  beforeEach(() => {
    writeFileSync(calls, '');
    printed = [];
    const keep = (line: string) => {
      printed.push(line);
    };
    logSpy = jest.spyOn(console, 'log').mockImplementation(keep);
    errorSpy = jest.spyOn(console, 'error').mockImplementation(keep);
  });

  afterEach(() => {
    logSpy.mockRestore();
    errorSpy.mockRestore();
  });

  const recorded = () => readFileSync(calls, 'utf8').trim().split('\n');
  const compose = `compose -f ${join(PROJECT_DIR, COMPOSE_FILE)} -p master-orchestrator-localstack`;

  it('up: starts the compose project, waits for the health endpoint, and reports apigatewayv2', async () => {
    // Prepare
    const server = await serve([
      { status: 503, body: {} },
      { status: 200, body: { services: { apigatewayv2: 'available' }, edition: 'pro', version: '2026.9.0' } },
    ]);
    const env = {
      PATH: bin,
      DOCKER_CALLS: calls,
      LOCALSTACK_AUTH_TOKEN: 'ls-token',
      LOCALSTACK_ENDPOINT: server.url,
    };

    // Act
    const code = await runCommand('up', env).finally(server.close);

    // Assess
    expect(code).toBe(0);
    expect(recorded()).toEqual(['compose version|ls-token', `${compose} up -d|ls-token`]);
    expect(server.paths).toEqual(['/_localstack/health', '/_localstack/health']);
    expect(printed.at(-1)).toMatch(/up at .*apigatewayv2 available.*npm run localstack:deploy/);
  });

  it('down: stops the project with its volumes, giving compose a placeholder token when none is set', async () => {
    // Act
    const code = await runCommand('down', { PATH: bin, DOCKER_CALLS: calls });

    // Assess
    expect(code).toBe(0);
    expect(recorded()).toEqual([
      'compose version|',
      `${compose} down --volumes --remove-orphans|not-needed-to-stop`,
    ]);
  });

  it('fails with one line on a bad LOCALSTACK_UP_TIMEOUT_SECONDS or LOCALSTACK_WEBSOCKET, before starting anything', async () => {
    // Prepare
    const env = { PATH: bin, DOCKER_CALLS: calls, LOCALSTACK_AUTH_TOKEN: 'x' };

    // Act
    const upCode = await runCommand('up', { ...env, LOCALSTACK_UP_TIMEOUT_SECONDS: 'soon' });
    const deployCode = await runCommand('deploy', { ...env, LOCALSTACK_WEBSOCKET: 'maybe' });

    // Assess
    expect([upCode, deployCode]).toEqual([1, 1]);
    expect(printed).toEqual([
      expect.stringMatching(/^localstack:up: LOCALSTACK_UP_TIMEOUT_SECONDS must be/),
      expect.stringMatching(/^localstack:deploy: LOCALSTACK_WEBSOCKET must be auto, true or false/),
    ]);
    expect(recorded().every((line) => line.startsWith('compose version'))).toBe(true);
  });
});
