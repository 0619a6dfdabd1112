/**
 * The template loader: reads the synthesized CloudFormation template from the cloud
 * assembly (`cdk.out`), orders its resources by their dependencies, resolves the
 * intrinsic functions, hands each resource to the provider that deploys its type, and
 * resolves the Outputs at the end.
 *
 * Resource types fall into three groups:
 * - a provider lists the type in `resourceTypes`: it deploys the resource for real;
 * - {@link NO_OP_TYPES}: types with no behaviour offline (IAM, logs, alarms, ...). They
 *   get fake but well-formed names and ARNs, so `Ref` and `Fn::GetAtt` still resolve;
 * - anything else is UNKNOWN: skipped with a warning, and given placeholder values.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployContext, DeployedResource, Provider, ResolvedResource } from './types';

/** The template is malformed, uses something the runtime cannot do, or a deploy failed. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
  readonly Metadata?: Readonly<Record<string, unknown>>;
}

export interface CfnParameter {
  readonly Type: string;
  readonly Default?: unknown;
}

export interface CfnOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Parameters?: Readonly<Record<string, CfnParameter>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  readonly Outputs?: Readonly<Record<string, CfnOutput>>;
}

export interface LoadedTemplate {
  readonly stackName: string;
  /** The region the stack was synthesized for, when the assembly names one. */
  readonly region: string | undefined;
  readonly templateFile: string;
  readonly template: CfnTemplate;
}

/**
 * Types with no behaviour in the offline runtime. Their `Ref` and `Fn::GetAtt` give fake
 * but well-formed names and ARNs.
 */
export const NO_OP_TYPES: readonly string[] = [
  'AWS::ApiGateway::Account',
  'AWS::CDK::Metadata',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::KMS::Alias',
  'AWS::KMS::Key',
  'AWS::Lambda::Permission',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
];

// ---------------------------------------------------------------------------
// Reading the assembly

interface ManifestArtifact {
  readonly type?: string;
  readonly environment?: string;
  readonly displayName?: string;
  readonly properties?: { readonly templateFile?: string; readonly stackName?: string };
}

/**
 * Reads `<assemblyDir>/manifest.json` to find the stack's template, then the template.
 * Without a manifest it falls back to `<assemblyDir>/<stackName>.template.json`.
 *
 * @param stackName the stack to load; may be left out when the assembly holds exactly one
 * @throws TemplateError when the assembly or the stack is missing
 * @example
 * const { template, region } = loadTemplate('cdk.out', 'MasterOrchestrator');
 */
export function loadTemplate(assemblyDir: string, stackName?: string): LoadedTemplate {
  const manifestFile = join(assemblyDir, 'manifest.json');
  if (!existsSync(manifestFile)) {
    if (stackName === undefined) {
      throw new TemplateError(`${manifestFile} is missing: synthesize first (npx cdk synth --quiet)`);
    }
    const templateFile = join(assemblyDir, `${stackName}.template.json`);
    return { stackName, region: undefined, templateFile, template: readTemplateFile(templateFile) };
  }
  const manifest = readJson(manifestFile) as { artifacts?: Record<string, ManifestArtifact> };
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(
    ([, artifact]) => artifact.type === 'aws:cloudformation:stack',
  );
  const match =
    stackName === undefined
      ? stacks.length === 1
        ? stacks[0]
        : undefined
      : stacks.find(
          ([id, artifact]) =>
            id === stackName ||
            artifact.properties?.stackName === stackName ||
            artifact.displayName === stackName,
        );
  if (!match) {
    const names = stacks.map(([id]) => id).join(', ') || 'none';
    throw new TemplateError(
      stackName === undefined
        ? `${manifestFile} holds ${stacks.length} stacks (${names}); name the one to run`
        : `stack ${stackName} is not in ${manifestFile} (stacks: ${names})`,
    );
  }
  const [id, artifact] = match;
  const templateFile = join(assemblyDir, artifact.properties?.templateFile ?? `${id}.template.json`);
  const region = /^aws:\/\/[^/]+\/([a-z0-9-]+)$/.exec(artifact.environment ?? '')?.[1];
  return {
    stackName: artifact.properties?.stackName ?? id,
    region: region === undefined || region === 'unknown-region' ? undefined : region,
    templateFile,
    template: readTemplateFile(templateFile),
  };
}

function readTemplateFile(file: string): CfnTemplate {
  if (!existsSync(file))
    throw new TemplateError(`${file} is missing: synthesize first (npx cdk synth --quiet)`);
  const template = readJson(file) as Partial<CfnTemplate>;
  if (!isRecord(template.Resources)) throw new TemplateError(`${file} has no Resources section`);
  return template as CfnTemplate;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TemplateError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Dependency order

/**
 * The logical ids a resource depends on: `DependsOn`, and every `Ref`, `Fn::GetAtt` and
 * `Fn::Sub` reference to another resource (parameters and pseudo parameters are not
 * resources). References inside both branches of an `Fn::If` count, as in CloudFormation.
 */
export function dependenciesOf(resource: CfnResource, resourceIds: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
  for (const id of dependsOn) found.add(id);
  collectReferences(resource.Properties, found);
  for (const id of found) {
    if (!resourceIds.has(id) && !dependsOn.includes(id)) found.delete(id);
  }
  return found;
}

function collectReferences(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectReferences(item, into);
    return;
  }
  if (!isRecord(value)) return;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const argument = value[key];
    if (key === 'Ref' && typeof argument === 'string') {
      into.add(argument);
      return;
    }
    if (key === 'Fn::GetAtt') {
      const target = typeof argument === 'string' ? argument.split('.')[0] : (argument as unknown[])[0];
      if (typeof target === 'string') into.add(target);
      if (Array.isArray(argument)) collectReferences(argument.slice(1), into);
      return;
    }
    if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(argument) ? argument : [argument, undefined];
      const named = isRecord(variables) ? new Set(Object.keys(variables)) : new Set<string>();
      if (typeof text === 'string') {
        for (const name of subPlaceholders(text)) {
          const target = name.split('.')[0] as string;
          if (!named.has(name) && !named.has(target)) into.add(target);
        }
      }
      collectReferences(variables, into);
      return;
    }
  }
  for (const item of Object.values(value)) collectReferences(item, into);
}

/**
 * Orders the resources so each comes after everything it depends on; among resources
 * that are free at the same time, template order wins.
 *
 * @throws TemplateError naming the cycle, or a `DependsOn` on a resource that does not exist
 * @example
 * orderResources({ Resources: { B: { Type: 'X', DependsOn: 'A' }, A: { Type: 'X' } } }); // ['A', 'B']
 */
export function orderResources(template: CfnTemplate): string[] {
  const ids = Object.keys(template.Resources);
  const idSet = new Set(ids);
  const dependencies = new Map<string, Set<string>>();
  for (const id of ids) {
    const resource = template.Resources[id] as CfnResource;
    const deps = dependenciesOf(resource, idSet);
    for (const dep of deps) {
      if (!idSet.has(dep)) throw new TemplateError(`${id} depends on ${dep}, which is not in the template`);
    }
    deps.delete(id);
    dependencies.set(id, deps);
  }

  const ordered: string[] = [];
  const placed = new Set<string>();
  // Each pass places at least one resource, or the remaining ones hold a cycle.
  while (ordered.length < ids.length) {
    const before = ordered.length;
    for (const id of ids) {
      if (placed.has(id)) continue;
      const deps = dependencies.get(id) as Set<string>;
      if ([...deps].every((dep) => placed.has(dep))) {
        ordered.push(id);
        placed.add(id);
      }
    }
    if (ordered.length === before) {
      const cycle = findCycle(
        ids.filter((id) => !placed.has(id)),
        dependencies,
      );
      throw new TemplateError(`dependency cycle between resources: ${cycle.join(' -> ')}`);
    }
  }
  return ordered;
}

function findCycle(remaining: readonly string[], dependencies: ReadonlyMap<string, Set<string>>): string[] {
  const left = new Set(remaining);
  // Every remaining resource waits on another remaining one, so walking always loops.
  const path: string[] = [];
  const seenAt = new Map<string, number>();
  let current = remaining[0] as string;
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    const next = [...(dependencies.get(current) ?? [])].find((dep) => left.has(dep));
    if (next === undefined) break;
    current = next;
  }
  const start = seenAt.get(current) ?? 0;
  return [...path.slice(start), current];
}

// ---------------------------------------------------------------------------
// Intrinsic functions

/** Stands for `AWS::NoValue`: the property or list item is dropped. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface ResolveScope {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  readonly stackId: string;
  readonly template: CfnTemplate;
  /** Parameter values by name; strings, or string lists for list types. */
  readonly parameters: ReadonlyMap<string, string | readonly string[]>;
  /** The deployed resource for a logical id, once it is deployed. */
  resource(logicalId: string): DeployedResource | undefined;
  /** Evaluated conditions, filled lazily. */
  readonly conditions: Map<string, boolean>;
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/** The partition a region belongs to, e.g. `aws-cn` for `cn-north-1`. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function urlSuffixOf(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
}

/**
 * Resolves every intrinsic function in `value`: Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
 * Fn::Select, Fn::Split, Fn::If (with the Conditions section), Fn::GetAZs, Fn::FindInMap,
 * Fn::Base64, Fn::ToJsonString and Fn::Length. `AWS::NoValue` drops the property or list
 * item that holds it. Fn::ImportValue and Fn::Cidr are refused.
 *
 * @throws TemplateError with the path to the failing value
 * @example
 * resolveValue({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}' }, scope); // 'arn:aws:s3:::my-bucket'
 */
export function resolveValue(value: unknown, scope: ResolveScope, path = ''): unknown {
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    value.forEach((item, index) => {
      const resolved = resolveValue(item, scope, `${path}[${index}]`);
      if (resolved !== NO_VALUE) items.push(resolved);
    });
    return items;
  }
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]?.startsWith('Fn::'))) {
    const key = keys[0] as string;
    try {
      return resolveIntrinsic(key, value[key], scope, path);
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      throw new TemplateError(`${path || '(value)'}: ${key}: ${(error as Error).message}`, { cause: error });
    }
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const resolved = resolveValue(item, scope, path ? `${path}.${key}` : key);
    if (resolved !== NO_VALUE) result[key] = resolved;
  }
  return result;
}

function resolveIntrinsic(key: string, argument: unknown, scope: ResolveScope, path: string): unknown {
  const fail = (message: string): never => {
    throw new TemplateError(`${path || '(value)'}: ${key}: ${message}`);
  };
  const args = (count: number): unknown[] => {
    if (!Array.isArray(argument) || argument.length !== count) fail(`expects a list of ${count} arguments`);
    return argument as unknown[];
  };
  const inner = (item: unknown, suffix: string): unknown =>
    resolveValue(item, scope, `${path}.${key}${suffix}`);

  switch (key) {
    case 'Ref': {
      if (typeof argument !== 'string') return fail('expects a name');
      return resolveRef(argument, scope, fail);
    }
    case 'Fn::GetAtt': {
      let logicalId: unknown;
      let attribute: unknown;
      if (typeof argument === 'string') {
        const dot = argument.indexOf('.');
        if (dot < 1) return fail(`"${argument}" is not "LogicalId.Attribute"`);
        [logicalId, attribute] = [argument.slice(0, dot), argument.slice(dot + 1)];
      } else {
        [logicalId, attribute] = args(2);
        attribute = inner(attribute, '[1]');
      }
      if (typeof logicalId !== 'string' || typeof attribute !== 'string') {
        return fail('expects a logical id and an attribute name');
      }
      return resolveGetAtt(logicalId, attribute, scope, fail);
    }
    case 'Fn::Join': {
      const [delimiter, list] = args(2);
      if (typeof delimiter !== 'string') return fail('the delimiter must be a string');
      const items = inner(list, '[1]');
      if (!Array.isArray(items)) return fail('the second argument must be a list');
      return items.map((item, index) => scalarString(item, `item ${index}`, fail)).join(delimiter);
    }
    case 'Fn::Sub':
      return resolveSub(argument, scope, path, fail);
    case 'Fn::Select': {
      const [rawIndex, list] = args(2);
      const index = Number(inner(rawIndex, '[0]'));
      const items = inner(list, '[1]');
      if (!Array.isArray(items)) return fail('the second argument must be a list');
      if (!Number.isInteger(index) || index < 0 || index >= items.length) {
        return fail(`index ${String(rawIndex)} is outside the list of ${items.length}`);
      }
      return items[index];
    }
    case 'Fn::Split': {
      const [delimiter, source] = args(2);
      if (typeof delimiter !== 'string' || delimiter === '') return fail('the delimiter must be a string');
      const text = inner(source, '[1]');
      if (typeof text !== 'string') return fail('the source must resolve to a string');
      return text.split(delimiter);
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = args(3);
      if (typeof condition !== 'string') return fail('the first argument must name a condition');
      return evaluateCondition(condition, scope)
        ? resolveValue(whenTrue, scope, `${path}.Fn::If[1]`)
        : resolveValue(whenFalse, scope, `${path}.Fn::If[2]`);
    }
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
      return evaluateConditionExpression({ [key]: argument }, scope, path);
    case 'Fn::GetAZs': {
      const region = inner(argument, '');
      const name = typeof region === 'string' && region !== '' ? region : scope.region;
      return ['a', 'b', 'c'].map((zone) => `${name}${zone}`);
    }
    case 'Fn::FindInMap': {
      const list = Array.isArray(argument) ? argument : [];
      if (list.length !== 3 && list.length !== 4)
        return fail('expects [MapName, TopLevelKey, SecondLevelKey]');
      const [map, top, second] = list.slice(0, 3).map((item, index) => inner(item, `[${index}]`));
      const found = scope.template.Mappings?.[String(map)]?.[String(top)]?.[String(second)];
      if (found !== undefined) return found;
      const fallback = list[3];
      if (isRecord(fallback) && 'DefaultValue' in fallback) return inner(fallback.DefaultValue, '[3]');
      return fail(`Mappings has no ${String(map)}.${String(top)}.${String(second)}`);
    }
    case 'Fn::Base64': {
      const text = inner(argument, '');
      if (typeof text !== 'string') return fail('expects a string');
      return Buffer.from(text, 'utf8').toString('base64');
    }
    case 'Fn::ToJsonString':
      return JSON.stringify(inner(argument, ''));
    case 'Fn::Length': {
      const items = inner(argument, '');
      if (!Array.isArray(items)) return fail('expects a list');
      return items.length;
    }
    case 'Fn::ImportValue':
      return fail(
        `imports ${JSON.stringify(argument)} from another stack; the offline runtime deploys one stack and has no exports`,
      );
    default:
      return fail('is not supported by the offline runtime');
  }
}

function resolveRef(name: string, scope: ResolveScope, fail: (message: string) => never): unknown {
  if (PSEUDO_PARAMETERS.has(name)) {
    switch (name) {
      case 'AWS::AccountId':
        return scope.accountId;
      case 'AWS::Region':
        return scope.region;
      case 'AWS::Partition':
        return partitionOf(scope.region);
      case 'AWS::URLSuffix':
        return urlSuffixOf(scope.region);
      case 'AWS::StackName':
        return scope.stackName;
      case 'AWS::StackId':
        return scope.stackId;
      case 'AWS::NotificationARNs':
        return [];
      default:
        return NO_VALUE;
    }
  }
  const parameter = scope.parameters.get(name);
  if (parameter !== undefined) return parameter;
  if (scope.template.Parameters?.[name]) return fail(`parameter ${name} has no value and no Default`);
  const resource = scope.template.Resources[name];
  if (!resource) return fail(`${name} is neither a parameter nor a resource`);
  const deployed = scope.resource(name);
  if (!deployed) return fail(`${name} is not deployed (its condition is false, or it comes later)`);
  return deployed.ref;
}

function resolveGetAtt(
  logicalId: string,
  attribute: string,
  scope: ResolveScope,
  fail: (message: string) => never,
): unknown {
  const resource = scope.template.Resources[logicalId];
  if (!resource) return fail(`${logicalId} is not a resource in the template`);
  const deployed = scope.resource(logicalId);
  if (!deployed) return fail(`${logicalId} is not deployed (its condition is false, or it comes later)`);
  const value = deployed.attributes?.[attribute];
  if (value === undefined && (deployed as Partial<DeployedEntry>).mode === 'unknown') {
    // Nothing emulates the resource; a recognizable placeholder keeps its dependents deployable.
    return `${deployed.ref}.${attribute}`;
  }
  if (value === undefined) {
    const known = Object.keys(deployed.attributes ?? {}).join(', ') || 'none';
    return fail(`${logicalId} (${resource.Type}) has no attribute ${attribute} offline (it has: ${known})`);
  }
  return value;
}

function resolveSub(
  argument: unknown,
  scope: ResolveScope,
  path: string,
  fail: (message: string) => never,
): string {
  const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
  if (typeof text !== 'string') return fail('expects a string, or [string, {variables}]');
  if (!isRecord(variables)) return fail('the variables must be an object');
  const resolvedVariables = new Map<string, unknown>();
  const variable = (name: string): unknown => {
    if (!resolvedVariables.has(name)) {
      resolvedVariables.set(name, resolveValue(variables[name], scope, `${path}.Fn::Sub[1].${name}`));
    }
    return resolvedVariables.get(name);
  };
  return text.replace(/\$\{([^}]*)\}/g, (_match, raw: string) => {
    if (raw.startsWith('!')) return `\${${raw.slice(1)}}`;
    const name = raw.trim();
    let value: unknown;
    if (Object.hasOwn(variables, name)) value = variable(name);
    else if (name.includes('.') && !PSEUDO_PARAMETERS.has(name)) {
      const dot = name.indexOf('.');
      value = resolveGetAtt(name.slice(0, dot), name.slice(dot + 1), scope, fail);
    } else value = resolveRef(name, scope, fail);
    return scalarString(value, `\${${name}}`, fail);
  });
}

function scalarString(value: unknown, what: string, fail: (message: string) => never): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return fail(
    `${what} resolved to ${value === NO_VALUE ? 'AWS::NoValue' : JSON.stringify(value)}, not a string`,
  );
}

/**
 * Evaluates a named condition from the Conditions section (memoized in `scope.conditions`).
 *
 * @throws TemplateError for an unknown condition or a cycle between conditions
 */
export function evaluateCondition(name: string, scope: ResolveScope, evaluating: string[] = []): boolean {
  const known = scope.conditions.get(name);
  if (known !== undefined) return known;
  if (evaluating.includes(name)) {
    throw new TemplateError(`condition cycle: ${[...evaluating, name].join(' -> ')}`);
  }
  const definition = scope.template.Conditions?.[name];
  if (definition === undefined) throw new TemplateError(`condition ${name} is not in the Conditions section`);
  const result = evaluateConditionExpression(definition, scope, `Conditions.${name}`, [...evaluating, name]);
  scope.conditions.set(name, result);
  return result;
}

function evaluateConditionExpression(
  expression: unknown,
  scope: ResolveScope,
  path: string,
  evaluating: string[] = [],
): boolean {
  if (typeof expression === 'boolean') return expression;
  if (expression === 'true' || expression === 'false') return expression === 'true';
  const keys = isRecord(expression) ? Object.keys(expression) : [];
  const key = keys.length === 1 ? (keys[0] as string) : undefined;
  const argument = key === undefined ? undefined : (expression as Record<string, unknown>)[key];
  const list = (count?: number): unknown[] => {
    if (!Array.isArray(argument) || (count !== undefined && argument.length !== count)) {
      throw new TemplateError(`${path}: ${key} expects a list${count === undefined ? '' : ` of ${count}`}`);
    }
    return argument;
  };
  switch (key) {
    case 'Condition':
      if (typeof argument !== 'string') throw new TemplateError(`${path}: Condition expects a name`);
      return evaluateCondition(argument, scope, evaluating);
    case 'Fn::Equals': {
      const [left, right] = list(2).map((item, index) =>
        resolveValue(item, scope, `${path}.Fn::Equals[${index}]`),
      );
      return JSON.stringify(left) === JSON.stringify(right);
    }
    case 'Fn::Not':
      return !evaluateConditionExpression(list(1)[0], scope, `${path}.Fn::Not`, evaluating);
    case 'Fn::And':
      return list().every((item, index) =>
        evaluateConditionExpression(item, scope, `${path}.Fn::And[${index}]`, evaluating),
      );
    case 'Fn::Or':
      return list().some((item, index) =>
        evaluateConditionExpression(item, scope, `${path}.Fn::Or[${index}]`, evaluating),
      );
    default:
      throw new TemplateError(`${path}: ${JSON.stringify(expression)} is not a condition`);
  }
}

// ---------------------------------------------------------------------------
// Parameters

/**
 * Parameter values: an override, else the Default. SSM-backed parameters (such as CDK's
 * `BootstrapVersion`) have no SSM offline; their Default (the parameter's path) stands
 * in, and the template's Rules, which are what read BootstrapVersion, are not evaluated.
 * List types resolve to string lists. A parameter with neither fails only when used.
 */
export function parameterValues(
  template: CfnTemplate,
  overrides: Readonly<Record<string, string>> = {},
): Map<string, string | readonly string[]> {
  const values = new Map<string, string | readonly string[]>();
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    const raw = overrides[name] ?? parameter.Default;
    if (raw === undefined) continue;
    const text = Array.isArray(raw) ? raw.join(',') : String(raw);
    const isList =
      parameter.Type === 'CommaDelimitedList' ||
      (parameter.Type.startsWith('List<') && !parameter.Type.startsWith('AWS::SSM::'));
    values.set(name, isList ? text.split(',').map((item) => item.trim()) : text);
  }
  return values;
}

// ---------------------------------------------------------------------------
// Fake values for no-op and unknown types

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomSuffix(length = 12): string {
  let suffix = '';
  for (let i = 0; i < length; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return suffix;
}

export interface GeneratedNameOptions {
  /** Longest name the service accepts. @default 128 */
  readonly maxLength?: number;
  /** Appended after the unique part, e.g. `.fifo`. @default '' */
  readonly suffix?: string;
  /** The same name on every boot of one stack (a hash of stack and logical id), not a random one. @default false */
  readonly stable?: boolean;
  /** Drop every character but letters, digits, `_` and `-` (SQS names). @default false */
  readonly sanitize?: boolean;
  /** Leave the stack name out, as CloudFormation does for some types (state machines). @default false */
  readonly withoutStack?: boolean;
}

/**
 * The physical name CloudFormation generates for a resource without an explicit name:
 * `<stack>-<logicalId>-<SUFFIX>`; when too long, stack and logical id are cut evenly.
 * @example generatedName('MasterOrchestrator', 'Table', { maxLength: 255 }) // 'MasterOrchestrator-Table-K3J9...'
 */
export function generatedName(
  stackName: string,
  logicalId: string,
  options: GeneratedNameOptions = {},
): string {
  const { maxLength = 128, suffix = '', stable = false, sanitize = false, withoutStack = false } = options;
  const unique = stable
    ? createHash('sha256').update(`${stackName}/${logicalId}`).digest('hex').slice(0, 12).toUpperCase()
    : randomSuffix();
  const clean = (text: string) => (sanitize ? text.replace(/[^A-Za-z0-9_-]/g, '') : text);
  const budget = Math.max(1, maxLength - unique.length - suffix.length - (withoutStack ? 1 : 2));
  if (withoutStack) return `${clean(logicalId).slice(0, budget)}-${unique}${suffix}`;
  const stack = clean(stackName).slice(0, Math.ceil(budget / 2));
  const logical = clean(logicalId).slice(0, budget - stack.length);
  return `${stack}-${logical}-${unique}${suffix}`;
}

function stringProperty(properties: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = properties[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * What `Ref` and `Fn::GetAtt` give for a resource nothing deploys: the names and ARNs
 * the real service would hand out, built from the template's own names when it has them.
 */
export function fakeDeployedResource(
  resource: ResolvedResource,
  context: Pick<DeployContext, 'region' | 'accountId' | 'stackName'>,
): DeployedResource {
  const { region, accountId, stackName } = context;
  const { logicalId, type, properties } = resource;
  const partition = partitionOf(region);
  const name = (key: string, maxLength?: number): string =>
    stringProperty(properties, key) ?? generatedName(stackName, logicalId, { maxLength });
  switch (type) {
    case 'AWS::IAM::Role': {
      const roleName = name('RoleName', 64);
      const rolePath = stringProperty(properties, 'Path') ?? '/';
      return {
        ref: roleName,
        attributes: {
          Arn: `arn:${partition}:iam::${accountId}:role${rolePath}${roleName}`,
          RoleId: `AROA${randomSuffix(17)}`,
        },
      };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const policyName = name('ManagedPolicyName');
      const arn = `arn:${partition}:iam::${accountId}:policy/${policyName}`;
      return { ref: arn, attributes: { PolicyArn: arn } };
    }
    case 'AWS::Logs::LogGroup': {
      const logGroupName = name('LogGroupName', 512);
      return {
        ref: logGroupName,
        attributes: { Arn: `arn:${partition}:logs:${region}:${accountId}:log-group:${logGroupName}:*` },
      };
    }
    case 'AWS::CloudWatch::Alarm':
    case 'AWS::CloudWatch::CompositeAlarm': {
      const alarmName = name('AlarmName', 255);
      return {
        ref: alarmName,
        attributes: { Arn: `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:${alarmName}` },
      };
    }
    case 'AWS::CloudWatch::Dashboard':
      return { ref: name('DashboardName', 255) };
    case 'AWS::KMS::Key': {
      const keyId = randomUUID();
      return {
        ref: keyId,
        attributes: { Arn: `arn:${partition}:kms:${region}:${accountId}:key/${keyId}`, KeyId: keyId },
      };
    }
    case 'AWS::KMS::Alias':
      return { ref: name('AliasName') };
    case 'AWS::SNS::Topic': {
      // Alarms are not evaluated offline, so nothing ever publishes to it.
      const topicName = name('TopicName', 256);
      const arn = `arn:${partition}:sns:${region}:${accountId}:${topicName}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: topicName } };
    }
    case 'AWS::SecretsManager::ResourcePolicy': {
      const secretId = stringProperty(properties, 'SecretId') ?? generatedName(stackName, logicalId);
      return { ref: secretId, attributes: { Id: secretId } };
    }
    default: {
      // Generic: an id, and an ARN in the service's namespace, so a stray GetAtt still resolves.
      const id = generatedName(stackName, logicalId);
      const service = type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return {
        ref: id,
        attributes: {
          Arn: `arn:${partition}:${service}:${region}:${accountId}:${logicalId.toLowerCase()}/${id}`,
          Id: id,
        },
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Deploying

export type DeployMode = 'provider' | 'no-op' | 'unknown' | 'skipped';

export interface DeployedEntry extends DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly mode: DeployMode;
  /** The provider's service name, for resources a provider deployed. */
  readonly service?: string;
}

export interface DeployTemplateOptions {
  readonly template: CfnTemplate;
  readonly context: DeployContext;
  readonly providers: readonly Provider[];
  /** Parameter overrides by name. @default {} */
  readonly parameters?: Readonly<Record<string, string>>;
  /** @default `arn:aws:cloudformation:<region>:<account>:stack/<stackName>/<uuid>` */
  readonly stackId?: string;
}

export interface DeployTemplateResult {
  readonly resources: ReadonlyMap<string, DeployedEntry>;
  /** Resolved Outputs, as strings (lists are comma-joined, as CloudFormation shows them). */
  readonly outputs: Readonly<Record<string, string>>;
  /** Resource type → count, for types treated as no-ops. */
  readonly noOpTypes: ReadonlyMap<string, number>;
  /** Resource type → count, for types no provider knows (skipped). */
  readonly unknownTypes: ReadonlyMap<string, number>;
}

/**
 * Deploys a template into the providers, in dependency order, then resolves Outputs.
 * Logs one line listing the no-op types and one listing the unknown types first.
 *
 * @throws TemplateError when a provider fails, or a provider-deployed resource's
 *   properties do not resolve; the message names the logical id and type
 * @example
 * const { outputs } = await deployTemplate({ template, context, providers });
 */
export async function deployTemplate(options: DeployTemplateOptions): Promise<DeployTemplateResult> {
  const { template, context, providers } = options;
  const deployed = new Map<string, DeployedEntry>();
  const scope: ResolveScope = {
    region: context.region,
    accountId: context.accountId,
    stackName: context.stackName,
    stackId:
      options.stackId ??
      `arn:${partitionOf(context.region)}:cloudformation:${context.region}:${context.accountId}:stack/${context.stackName}/${randomUUID()}`,
    template,
    parameters: parameterValues(template, options.parameters),
    resource: (logicalId) => {
      const entry = deployed.get(logicalId);
      return entry?.mode === 'skipped' ? undefined : entry;
    },
    conditions: new Map(),
  };
  const providerFor = (type: string): Provider | undefined =>
    providers.find((provider) => provider.resourceTypes.includes(type));

  const order = orderResources(template);
  const noOpTypes = new Map<string, number>();
  const unknownTypes = new Map<string, number>();
  const activeIds = order.filter((id) => {
    const condition = template.Resources[id]?.Condition;
    return condition === undefined || evaluateCondition(condition, scope);
  });
  for (const id of activeIds) {
    const type = (template.Resources[id] as CfnResource).Type;
    if (providerFor(type)) continue;
    const counts = NO_OP_TYPES.includes(type) ? noOpTypes : unknownTypes;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  context.log(`no-op types (fake names and ARNs, no behaviour): ${describeCounts(noOpTypes)}`);
  context.log(`UNKNOWN types (skipped, placeholder values): ${describeCounts(unknownTypes)}`);

  const active = new Set(activeIds);
  for (const logicalId of order) {
    const raw = template.Resources[logicalId] as CfnResource;
    if (!active.has(logicalId)) {
      deployed.set(logicalId, { logicalId, type: raw.Type, mode: 'skipped', ref: '' });
      continue;
    }
    const provider = providerFor(raw.Type);
    const mode: DeployMode = provider ? 'provider' : NO_OP_TYPES.includes(raw.Type) ? 'no-op' : 'unknown';
    let properties: Record<string, unknown>;
    try {
      properties = resolveValue(raw.Properties ?? {}, scope, `${logicalId}.Properties`) as Record<
        string,
        unknown
      >;
    } catch (error) {
      if (mode === 'provider') throw error;
      // A no-op or skipped resource needs its properties only for its fake name; a
      // reference it cannot resolve must not stop the boot.
      if (mode === 'no-op') {
        context.log(`WARNING: ${logicalId} (${raw.Type}): ${(error as Error).message}; using no properties`);
      }
      properties = {};
    }
    const resolved: ResolvedResource = {
      logicalId,
      type: raw.Type,
      properties,
      metadata: raw.Metadata ?? {},
    };
    if (provider?.deploy) {
      let result: DeployedResource;
      try {
        result = await provider.deploy(resolved, context);
      } catch (error) {
        throw new TemplateError(
          `deploying ${logicalId} (${raw.Type}) with the ${provider.service} provider failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      deployed.set(logicalId, { ...result, logicalId, type: raw.Type, mode, service: provider.service });
      continue;
    }
    deployed.set(logicalId, { ...fakeDeployedResource(resolved, context), logicalId, type: raw.Type, mode });
  }

  return { resources: deployed, outputs: resolveOutputs(template, scope), noOpTypes, unknownTypes };
}

/**
 * Resolves the Outputs section with everything deployed. Outputs whose condition is
 * false are left out, as CloudFormation does.
 */
export function resolveOutputs(template: CfnTemplate, scope: ResolveScope): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [key, output] of Object.entries(template.Outputs ?? {})) {
    if (output.Condition !== undefined && !evaluateCondition(output.Condition, scope)) continue;
    const value = resolveValue(output.Value, scope, `Outputs.${key}`);
    if (value === NO_VALUE) continue;
    outputs[key] =
      typeof value === 'string'
        ? value
        : Array.isArray(value)
          ? value.map(String).join(',')
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
  }
  return outputs;
}

function describeCounts(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return 'none';
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, count]) => (count > 1 ? `${type} x${count}` : type))
    .join(', ');
}

function subPlaceholders(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
    const raw = match[1] as string;
    if (!raw.startsWith('!')) names.push(raw.trim());
  }
  return names;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
