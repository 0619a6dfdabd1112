/**
 * Deploys the API Gateway part of a synthesized template into the REST provider, with
 * just enough of a template loader (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split,
 * Fn::Sub, pseudo parameters, dependency order) to stand in for the runtime's own, and
 * a LambdaInvoker double that runs plain async functions in-process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiGatewayRestProvider } from '#local/runtime/providers/apigateway-rest';
import type { AwsRequest, DeployContext, LambdaInvoker, LambdaResult } from '#local/runtime/types';

export const STACK_NAME = 'MasterOrchestrator';
export const REGION = 'us-east-1';
export const ACCOUNT_ID = '000000000000';

export interface Template {
  Resources: Record<string, TemplateResource>;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Metadata?: Record<string, unknown>;
}

/**
 * The synthesized template from cdk.out; synthesizes once into a temporary folder when
 * cdk.out has none. A copy, so a test may edit it.
 */
export function loadSynthesizedTemplate(): Template {
  const root = join(__dirname, '..', '..', '..', '..');
  const file = join(root, 'cdk.out', `${STACK_NAME}.template.json`);
  if (existsSync(file)) {
    // Another process may be rewriting cdk.out: a half-written file is read again.
    for (let attempt = 0; ; attempt += 1) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as Template;
      } catch (error) {
        if (attempt >= 20) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
      }
    }
  }
  const out = mkdtempSync(join(tmpdir(), 'apigw-cdk-out-'));
  execFileSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
    cwd: root,
    stdio: 'ignore',
    timeout: 240_000,
  });
  return JSON.parse(readFileSync(join(out, `${STACK_NAME}.template.json`), 'utf8')) as Template;
}

/** The one logical id of `type` starting with `prefix` (CDK appends a hash). */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.entries(template.Resources)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1)
    throw new Error(`expected one ${type} named ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0] as string;
}

export function functionArn(logicalId: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${logicalId}`;
}

export type FunctionBody = (event: unknown) => Promise<unknown>;

/** The Lambda double: each call runs `body`; a throw becomes a function error, as Lambda reports it. */
export class InProcessLambda implements LambdaInvoker {
  readonly calls: { functionArn: string; event: unknown }[] = [];
  private readonly functions = new Map<string, FunctionBody>();

  register(arn: string, body: FunctionBody): void {
    this.functions.set(arn, body);
  }

  callsTo(arn: string): unknown[] {
    return this.calls.filter((call) => call.functionArn === arn).map((call) => call.event);
  }

  async invoke(functionNameOrArn: string, event: unknown): Promise<LambdaResult> {
    // Lambda hands the function a copy of the JSON it was given.
    const copy = JSON.parse(JSON.stringify(event)) as unknown;
    this.calls.push({ functionArn: functionNameOrArn, event: copy });
    const body = this.functions.get(functionNameOrArn);
    if (!body)
      return {
        ok: false,
        errorType: 'ResourceNotFoundException',
        errorMessage: functionNameOrArn,
        durationMs: 0,
      };
    try {
      const payload = await body(copy);
      return {
        ok: true,
        payload: JSON.parse(JSON.stringify(payload ?? null)) as unknown,
        durationMs: 1,
        coldStart: false,
      };
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return { ok: false, errorType: failure.name, errorMessage: failure.message, durationMs: 1 };
    }
  }
}

export interface DeployedApi {
  readonly provider: ReturnType<typeof createApiGatewayRestProvider>;
  readonly apiId: string;
  readonly stage: string;
  readonly logs: string[];
}

/**
 * Deploys every AWS::ApiGateway::* resource of `template`, in dependency order, with the
 * other resources standing in as Ref = logical id and Lambda functions as local ARNs.
 */
export async function deployApiGateway(
  template: Template,
  lambda: LambdaInvoker,
  options: Parameters<typeof createApiGatewayRestProvider>[0] = {},
): Promise<DeployedApi> {
  const logs: string[] = [];
  const provider = createApiGatewayRestProvider(options);
  const context: DeployContext = {
    region: REGION,
    accountId: ACCOUNT_ID,
    endpoint: 'http://127.0.0.1:4566',
    assemblyDir: 'cdk.out',
    stackName: STACK_NAME,
    services: { lambda, get: () => undefined },
    log: (message) => logs.push(message),
  };
  const deployed = new Map<string, { ref: string; attributes: Record<string, string> }>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function')
      deployed.set(id, { ref: id, attributes: { Arn: functionArn(id) } });
    else if (!provider.resourceTypes.includes(resource.Type)) deployed.set(id, { ref: id, attributes: {} });
  }
  for (const id of dependencyOrder(template, (candidate) => !deployed.has(candidate))) {
    const resource = template.Resources[id] as TemplateResource;
    const properties = resolve(resource.Properties ?? {}, deployed) as Record<string, unknown>;
    const result = await provider.deploy?.(
      { logicalId: id, type: resource.Type, properties, metadata: resource.Metadata ?? {} },
      context,
    );
    if (!result) throw new Error(`deploy returned nothing for ${id}`);
    deployed.set(id, { ref: result.ref, attributes: { ...result.attributes } });
  }
  const apiId = deployed.get(logicalIdOf(template, 'AWS::ApiGateway::RestApi', ''))?.ref as string;
  const stageId = Object.keys(template.Resources).find(
    (id) => template.Resources[id]?.Type === 'AWS::ApiGateway::Stage',
  );
  const stage = stageId ? (deployed.get(stageId)?.ref as string) : '';
  return { provider, apiId, stage, logs };
}

function dependencyOrder(template: Template, pending: (id: string) => boolean): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    if (state.get(id) === 'done' || !pending(id)) return;
    if (state.get(id) === 'visiting') throw new Error(`dependency cycle at ${id}`);
    state.set(id, 'visiting');
    const resource = template.Resources[id] as TemplateResource;
    const dependsOn = [resource.DependsOn ?? []].flat();
    for (const dependency of [...dependsOn, ...referencesIn(resource.Properties)]) visit(dependency);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(template.Resources)) visit(id);
  return order;
}

function referencesIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencesIn);
  if (typeof value !== 'object' || value === null) return [];
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string' && !record.Ref.startsWith('AWS::')) return [record.Ref];
  if (Array.isArray(record['Fn::GetAtt'])) return [String(record['Fn::GetAtt'][0])];
  return Object.values(record).flatMap(referencesIn);
}

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT_ID,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': STACK_NAME,
};

function resolve(
  value: unknown,
  deployed: ReadonlyMap<string, { ref: string; attributes: Record<string, string> }>,
): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, deployed));
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = record[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        const ref = PSEUDO[name] ?? deployed.get(name)?.ref;
        if (ref === undefined) throw new Error(`unresolved Ref ${name}`);
        return ref;
      }
      case 'Fn::GetAtt': {
        const [id, attribute] = arg as [string, string];
        const resolved = deployed.get(id)?.attributes[attribute];
        if (resolved === undefined) throw new Error(`unresolved GetAtt ${id}.${attribute}`);
        return resolved;
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((part) => String(resolve(part, deployed))).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number | string, unknown];
        return (resolve(list, deployed) as unknown[])[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, text] = arg as [string, unknown];
        return String(resolve(text, deployed)).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in variables) return String(resolve(variables[name], deployed));
          const [id, attribute] = name.split('.');
          return String(
            attribute
              ? resolve({ 'Fn::GetAtt': [id, attribute] }, deployed)
              : resolve({ Ref: name }, deployed),
          );
        });
      }
      default:
        break;
    }
  }
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, resolve(item, deployed)]));
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  readonly query?: string;
  readonly body?: string | Buffer;
}

/** A request as the edge hands it over, for `/_aws/execute-api/<apiId>/<stage><path>`. */
export function executeApiRequest(
  api: DeployedApi,
  method: string,
  path: string,
  options: RequestOptions = {},
): AwsRequest {
  const headers = Object.fromEntries(
    Object.entries({ host: '127.0.0.1:4566', 'user-agent': 'jest-apigw', ...options.headers }).map(
      ([name, value]) => [name.toLowerCase(), value],
    ),
  );
  return {
    method,
    path: `/_aws/execute-api/${api.apiId}/${api.stage}${path}`,
    query: new URLSearchParams(options.query ?? ''),
    headers,
    body: typeof options.body === 'string' ? Buffer.from(options.body) : (options.body ?? Buffer.alloc(0)),
    region: REGION,
  };
}

/** The response body as JSON. */
export function jsonOf(response: { body?: string | Buffer }): Record<string, unknown> {
  return JSON.parse(String(response.body ?? '')) as Record<string, unknown>;
}
