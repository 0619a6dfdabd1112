/**
 * The EventBridge provider of the offline runtime (DESIGN §6.1).
 *
 * - Buses (`default` plus `AWS::Events::EventBus`), rules with event patterns
 *   (`eventbridge/pattern.ts`) or schedule expressions (`eventbridge/schedule.ts`), and
 *   targets: Lambda (`services.lambda`, asynchronous), Step Functions (`startExecution` of
 *   `services.get('states')`) and SQS (`sendMessage` of `services.get('sqs')`).
 * - The AWS JSON 1.1 API (`AWSEvents.*`): PutEvents, PutRule, DescribeRule, ListRules,
 *   DeleteRule, EnableRule, DisableRule, PutTargets, RemoveTargets, ListTargetsByRule,
 *   TestEventPattern.
 * - In-process `putEvents(entries)` for the Step Functions `events:putEvents` task; it is
 *   the same code path as the HTTP PutEvents.
 *
 * Differences from AWS: no retries or DLQs for failed deliveries (they are logged), no
 * InputTransformer (the whole event is delivered, with a warning), no archives, replays,
 * pipes or API destinations, and cron `L`/`W`/`#` are not scheduled.
 */
import { randomUUID } from 'node:crypto';
import {
  type AwsRequest,
  type AwsResponse,
  DEFAULT_REGION,
  type DeployContext,
  type DeployedResource,
  LOCAL_ACCOUNT_ID,
  type Provider,
  type ResolvedResource,
  type ServiceRegistry,
} from '#local/runtime/types';
import { generatedName } from '../template';
import {
  InvalidEventPatternError,
  type JsonObject,
  matchesPattern,
  parseEventPattern,
} from './eventbridge/pattern';
import {
  InvalidScheduleError,
  parseSchedule,
  type Schedule,
  UnsupportedScheduleError,
} from './eventbridge/schedule';
import type { EventBridgeEntry, EventsPublisher, PutEventsResult } from './stepfunctions/integrations';

export { InvalidEventPatternError, matchesPattern, parseEventPattern } from './eventbridge/pattern';

const TARGET_PREFIX = 'AWSEvents.';
const RULE_TYPE = 'AWS::Events::Rule';
const BUS_TYPE = 'AWS::Events::EventBus';
const DEFAULT_BUS = 'default';
/** PutEvents' limit on the total entry size. */
export const MAX_PUT_EVENTS_BYTES = 256 * 1024;
const MAX_ENTRIES = 10;
const MAX_TIMER_MS = 2_147_483_647;

/** Timers for schedule rules; tests inject their own to fire a schedule without waiting. */
export interface ScheduleClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: ScheduleClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface EventBridgeProviderOptions {
  readonly region?: string;
  readonly accountId?: string;
  readonly services?: ServiceRegistry;
  readonly log?: (message: string) => void;
  readonly clock?: ScheduleClock;
}

export interface EventTarget {
  readonly Id: string;
  readonly Arn: string;
  readonly Input?: string;
  readonly InputPath?: string;
  readonly RoleArn?: string;
  readonly InputTransformer?: unknown;
  readonly SqsParameters?: { readonly MessageGroupId?: string };
}

/** The event as EventBridge delivers it to targets. */
export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/** What a delivery did, for tests and the cost model. */
export interface Delivery {
  readonly rule: string;
  readonly targetId: string;
  readonly arn: string;
  readonly event: EventEnvelope;
}

export interface EventBridgeProvider extends Provider, EventsPublisher {
  readonly service: 'events';
  /** Every delivery started so far, oldest first. */
  deliveries(): readonly Delivery[];
  /** Resolves once every delivery started so far has settled. */
  settled(): Promise<void>;
}

interface Rule {
  name: string;
  bus: string;
  arn: string;
  pattern?: JsonObject;
  patternText?: string;
  scheduleExpression?: string;
  schedule?: Schedule;
  state: 'ENABLED' | 'DISABLED';
  description?: string;
  roleArn?: string;
  targets: Map<string, EventTarget>;
  timer?: unknown;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * Creates the EventBridge provider.
 *
 * @example
 * const events = createEventBridgeProvider();
 * await events.putEvents([{ Source: 'orders', DetailType: 'OrderPlaced', Detail: '{"id":1}' }]);
 */
export function createEventBridgeProvider(options: EventBridgeProviderOptions = {}): EventBridgeProvider {
  let services = options.services;
  let log = options.log ?? (() => {});
  let region = options.region ?? DEFAULT_REGION;
  let accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const clock = options.clock ?? systemClock;
  const buses = new Map<string, Map<string, Rule>>([[DEFAULT_BUS, new Map()]]);
  const deliveries: Delivery[] = [];
  const pending = new Set<Promise<void>>();
  let stopped = false;

  const busArn = (name: string): string => `arn:aws:events:${region}:${accountId}:event-bus/${name}`;
  const ruleArn = (bus: string, name: string): string =>
    `arn:aws:events:${region}:${accountId}:rule/${bus === DEFAULT_BUS ? '' : `${bus}/`}${name}`;

  function busOf(nameOrArn: unknown): Map<string, Rule> {
    const name = busName(nameOrArn);
    const bus = buses.get(name);
    if (!bus) throw new ApiError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
    return bus;
  }

  function ruleOf(name: unknown, bus: unknown): Rule {
    const rule = typeof name === 'string' ? busOf(bus).get(name) : undefined;
    if (!rule) {
      throw new ApiError(
        'ResourceNotFoundException',
        `Rule ${String(name)} does not exist on EventBus ${busName(bus)}.`,
      );
    }
    return rule;
  }

  function putRule(input: {
    name: string;
    bus: string;
    eventPattern?: unknown;
    scheduleExpression?: unknown;
    state?: unknown;
    description?: unknown;
    roleArn?: unknown;
  }): Rule {
    if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(input.name)) {
      throw new ApiError('ValidationException', `Rule name ${JSON.stringify(input.name)} is not valid.`);
    }
    const rules = busOf(input.bus);
    if (input.eventPattern === undefined && input.scheduleExpression === undefined) {
      throw new ApiError(
        'ValidationException',
        'Parameter(s) EventPattern or ScheduleExpression must be specified.',
      );
    }
    const pattern = input.eventPattern === undefined ? undefined : parseEventPattern(input.eventPattern);
    let schedule: Schedule | undefined;
    if (typeof input.scheduleExpression === 'string') {
      if (input.bus !== DEFAULT_BUS) {
        throw new ApiError(
          'ValidationException',
          'ScheduleExpression is supported only on the default event bus.',
        );
      }
      try {
        schedule = parseSchedule(input.scheduleExpression);
      } catch (error) {
        if (!(error instanceof UnsupportedScheduleError)) throw error;
        log(`events: rule ${input.name}: ${error.message}`);
      }
    }
    const state = input.state === 'DISABLED' ? 'DISABLED' : 'ENABLED';
    const existing = rules.get(input.name);
    if (existing) clearTimer(existing);
    const rule: Rule = {
      name: input.name,
      bus: input.bus,
      arn: ruleArn(input.bus, input.name),
      ...(pattern && { pattern, patternText: JSON.stringify(pattern) }),
      ...(typeof input.eventPattern === 'string' && { patternText: input.eventPattern }),
      ...(typeof input.scheduleExpression === 'string' && { scheduleExpression: input.scheduleExpression }),
      ...(schedule && { schedule }),
      state,
      ...(typeof input.description === 'string' && { description: input.description }),
      ...(typeof input.roleArn === 'string' && { roleArn: input.roleArn }),
      targets: existing?.targets ?? new Map(),
    };
    rules.set(rule.name, rule);
    arm(rule, clock.now());
    return rule;
  }

  function arm(rule: Rule, fromMs: number): void {
    if (stopped || !rule.schedule) return;
    const due =
      rule.schedule.kind === 'rate' ? fromMs + rule.schedule.periodMs : rule.schedule.next(clock.now());
    if (due === undefined) return;
    const wait = Math.max(0, due - clock.now());
    rule.timer = clock.setTimeout(
      () => {
        rule.timer = undefined;
        if (stopped || busOf(rule.bus).get(rule.name) !== rule) return;
        if (wait >= MAX_TIMER_MS) {
          arm(rule, fromMs);
          return;
        }
        if (rule.state === 'ENABLED') {
          const event: EventEnvelope = {
            version: '0',
            id: randomUUID(),
            'detail-type': 'Scheduled Event',
            source: 'aws.events',
            account: accountId,
            time: isoSeconds(new Date(clock.now())),
            region,
            resources: [rule.arn],
            detail: {},
          };
          deliver(rule, event);
        }
        arm(rule, due);
      },
      Math.min(wait, MAX_TIMER_MS),
    );
  }

  function clearTimer(rule: Rule): void {
    if (rule.timer !== undefined) clock.clearTimeout(rule.timer);
    rule.timer = undefined;
  }

  function putTargets(rule: Rule, targets: unknown): void {
    if (!Array.isArray(targets) || targets.length === 0 || targets.length > 10) {
      throw new ApiError('ValidationException', 'Targets must be a list of 1 to 10 targets.');
    }
    for (const target of targets as EventTarget[]) {
      if (typeof target?.Id !== 'string' || typeof target.Arn !== 'string') {
        throw new ApiError('ValidationException', 'Each target needs an Id and an Arn.');
      }
      if (target.Input !== undefined && target.InputPath !== undefined) {
        throw new ApiError(
          'ValidationException',
          'Only one of Input, InputPath, or InputTransformer can be provided.',
        );
      }
      if (target.Input !== undefined) {
        try {
          JSON.parse(target.Input);
        } catch {
          throw new ApiError('ValidationException', `Target ${target.Id}: Input is not valid JSON text.`);
        }
      }
      if (target.InputTransformer !== undefined) {
        log(
          `events: rule ${rule.name} target ${target.Id}: InputTransformer is not supported locally; the whole event is delivered`,
        );
      }
      rule.targets.set(target.Id, target);
    }
  }

  /** Entries put, counted in EventBridge's 64 KB billing chunks, for `usage()`. */
  let eventUnits = 0;

  /** The one PutEvents path, for the HTTP API and in-process callers. */
  async function putEvents(entries: readonly EventBridgeEntry[]): Promise<PutEventsResult> {
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
      throw new ApiError('ValidationException', `Entries must hold 1 to ${MAX_ENTRIES} entries.`);
    }
    const size = entries.reduce((total, entry) => total + entrySize(entry), 0);
    if (size > MAX_PUT_EVENTS_BYTES) {
      throw new ApiError(
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );
    }
    const results: PutEventsResult['Entries'][number][] = [];
    // EventBridge bills each entry in 64 KB chunks.
    for (const entry of entries) eventUnits += Math.max(1, Math.ceil(entrySize(entry) / (64 * 1024)));
    for (const entry of entries) {
      const problem = entryProblem(entry);
      if (problem) {
        results.push(problem);
        continue;
      }
      const name = busName(entry.EventBusName);
      const rules = buses.get(name);
      if (!rules) {
        results.push({
          ErrorCode: 'ResourceNotFoundException',
          ErrorMessage: `Event bus ${name} does not exist.`,
        });
        continue;
      }
      const event: EventEnvelope = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType as string,
        source: entry.Source as string,
        account: accountId,
        time: isoSeconds(entryTime(entry.Time) ?? new Date(clock.now())),
        region,
        resources: [...(entry.Resources ?? [])],
        detail: JSON.parse(entry.Detail),
      };
      for (const rule of rules.values()) {
        if (rule.state === 'ENABLED' && rule.pattern && matchesPattern(rule.pattern, event))
          deliver(rule, event);
      }
      results.push({ EventId: event.id });
    }
    return { Entries: results, FailedEntryCount: results.filter((result) => result.ErrorCode).length };
  }

  function deliver(rule: Rule, event: EventEnvelope): void {
    for (const target of rule.targets.values()) {
      deliveries.push({ rule: rule.name, targetId: target.Id, arn: target.Arn, event });
      const delivery = deliverTo(target, event).catch((error: unknown) => {
        log(`events: rule ${rule.name} target ${target.Id} (${target.Arn}): ${(error as Error).message}`);
      });
      pending.add(delivery);
      void delivery.finally(() => pending.delete(delivery));
    }
  }

  async function deliverTo(target: EventTarget, event: EventEnvelope): Promise<void> {
    const payload = targetInput(target, event);
    const [, , service] = target.Arn.split(':');
    if (service === 'lambda') {
      if (!services?.lambda) throw new Error('no Lambda provider is running');
      const result = await services.lambda.invoke(target.Arn, payload);
      if (!result.ok) throw new Error(`${result.errorType}: ${result.errorMessage}`);
      return;
    }
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    if (service === 'sqs') {
      const sqs = services?.get('sqs') as unknown as {
        sendMessage?: (
          arn: string,
          body: string,
          attributes?: undefined,
          options?: object,
        ) => Promise<unknown>;
      };
      if (typeof sqs?.sendMessage !== 'function') throw new Error('no SQS provider is running');
      const group = target.SqsParameters?.MessageGroupId;
      await sqs.sendMessage(target.Arn, body, undefined, group ? { messageGroupId: group } : undefined);
      return;
    }
    if (service === 'states') {
      const states = services?.get('states') as unknown as {
        startExecution?: (input: { stateMachineArn: string; input: string }) => unknown;
      };
      if (typeof states?.startExecution !== 'function')
        throw new Error('no Step Functions provider is running');
      states.startExecution({ stateMachineArn: target.Arn, input: body });
      return;
    }
    throw new Error('this target type is not supported locally (Lambda, SQS and Step Functions are)');
  }

  async function handle(request: AwsRequest): Promise<AwsResponse> {
    const operation = request.target?.slice(TARGET_PREFIX.length) ?? '';
    let input: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(request.body.length > 0 ? request.body.toString('utf8') : '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      input = parsed as Record<string, unknown>;
    } catch {
      return error(new ApiError('SerializationException', 'The request body is not a JSON object.'));
    }
    try {
      return ok(await dispatch(operation, input));
    } catch (caught) {
      if (caught instanceof ApiError) return error(caught);
      if (caught instanceof InvalidEventPatternError) return error(new ApiError(caught.name, caught.message));
      if (caught instanceof InvalidScheduleError) return error(new ApiError(caught.name, caught.message));
      throw caught;
    }
  }

  async function dispatch(operation: string, input: Record<string, unknown>): Promise<unknown> {
    const bus = busName(input.EventBusName);
    switch (operation) {
      case 'PutEvents':
        return putEvents(input.Entries as EventBridgeEntry[]);
      case 'PutRule': {
        if (typeof input.Name !== 'string') throw new ApiError('ValidationException', 'Name is required.');
        const rule = putRule({
          name: input.Name,
          bus,
          eventPattern: input.EventPattern,
          scheduleExpression: input.ScheduleExpression,
          state: input.State,
          description: input.Description,
          roleArn: input.RoleArn,
        });
        return { RuleArn: rule.arn };
      }
      case 'DescribeRule':
        return describe(ruleOf(input.Name, bus));
      case 'ListRules': {
        const prefix = typeof input.NamePrefix === 'string' ? input.NamePrefix : '';
        const rules = [...busOf(bus).values()]
          .filter((rule) => rule.name.startsWith(prefix))
          .sort((a, b) => a.name.localeCompare(b.name));
        return { Rules: rules.map(describe) };
      }
      case 'DeleteRule': {
        const rules = busOf(bus);
        const rule = typeof input.Name === 'string' ? rules.get(input.Name) : undefined;
        if (!rule) return {};
        if (rule.targets.size > 0 && input.Force !== true) {
          throw new ApiError('ValidationException', "Rule can't be deleted since it has targets.");
        }
        clearTimer(rule);
        rules.delete(rule.name);
        return {};
      }
      case 'EnableRule':
      case 'DisableRule':
        ruleOf(input.Name, bus).state = operation === 'EnableRule' ? 'ENABLED' : 'DISABLED';
        return {};
      case 'PutTargets':
        putTargets(ruleOf(input.Rule, bus), input.Targets);
        return { FailedEntryCount: 0, FailedEntries: [] };
      case 'RemoveTargets': {
        const rule = ruleOf(input.Rule, bus);
        for (const id of Array.isArray(input.Ids) ? input.Ids : []) rule.targets.delete(String(id));
        return { FailedEntryCount: 0, FailedEntries: [] };
      }
      case 'ListTargetsByRule':
        return { Targets: [...ruleOf(input.Rule, bus).targets.values()] };
      case 'TestEventPattern': {
        const pattern = parseEventPattern(input.EventPattern);
        let event: unknown;
        try {
          event = JSON.parse(String(input.Event));
        } catch {
          throw new ApiError('InvalidEventPatternException', 'Event is not valid JSON.');
        }
        const required = ['id', 'account', 'source', 'time', 'region', 'detail-type'];
        const missing = required.filter(
          (key) => typeof event !== 'object' || event === null || !(key in event),
        );
        if (missing.length > 0) {
          throw new ApiError(
            'ValidationException',
            `Parameter Event is not valid: missing ${missing.join(', ')}.`,
          );
        }
        return { Result: matchesPattern(pattern, event) };
      }
      default:
        throw new ApiError(
          'UnknownOperationException',
          `The local EventBridge does not support ${operation || 'this operation'}.`,
        );
    }
  }

  function describe(rule: Rule): Record<string, unknown> {
    return {
      Name: rule.name,
      Arn: rule.arn,
      EventBusName: rule.bus,
      State: rule.state,
      ...(rule.patternText !== undefined && { EventPattern: rule.patternText }),
      ...(rule.scheduleExpression !== undefined && { ScheduleExpression: rule.scheduleExpression }),
      ...(rule.description !== undefined && { Description: rule.description }),
      ...(rule.roleArn !== undefined && { RoleArn: rule.roleArn }),
      CreatedBy: accountId,
    };
  }

  function adopt(context: Omit<DeployContext, 'stackName'>): void {
    services = context.services;
    log = context.log;
    region = context.region || region;
    accountId = context.accountId || accountId;
  }

  return {
    service: 'events',
    resourceTypes: [RULE_TYPE, BUS_TYPE],
    usage: () => ({ event_units: eventUnits }),

    matches: (request) =>
      request.target?.startsWith(TARGET_PREFIX) === true || request.signingService === 'events',

    handle,

    async start(context) {
      adopt(context);
      stopped = false;
    },

    async deploy(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource> {
      adopt(context);
      const properties = resource.properties;
      const name =
        typeof properties.Name === 'string'
          ? properties.Name
          : generatedName(context.stackName, resource.logicalId, { maxLength: 63, stable: true });
      if (resource.type === BUS_TYPE) {
        if (!buses.has(name)) buses.set(name, new Map());
        return { ref: name, attributes: { Name: name, Arn: busArn(name) } };
      }
      if (resource.type !== RULE_TYPE)
        throw new Error(`the EventBridge provider does not deploy ${resource.type}`);
      try {
        const rule = putRule({
          name,
          bus: busName(properties.EventBusName),
          eventPattern: properties.EventPattern,
          scheduleExpression: properties.ScheduleExpression,
          state: properties.State,
          description: properties.Description,
          roleArn: properties.RoleArn,
        });
        if (Array.isArray(properties.Targets) && properties.Targets.length > 0)
          putTargets(rule, properties.Targets);
        return { ref: name, attributes: { Arn: rule.arn } };
      } catch (caught) {
        throw new Error(`${resource.logicalId}: ${(caught as Error).message}`, { cause: caught });
      }
    },

    async stop() {
      stopped = true;
      for (const rules of buses.values()) for (const rule of rules.values()) clearTimer(rule);
      await Promise.allSettled([...pending]);
    },

    putEvents,
    deliveries: () => deliveries,
    settled: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}

function busName(nameOrArn: unknown): string {
  if (typeof nameOrArn !== 'string' || nameOrArn === '') return DEFAULT_BUS;
  const arn = /^arn:aws[a-z-]*:events:[^:]*:\d*:event-bus\/(.+)$/.exec(nameOrArn);
  return arn ? (arn[1] as string) : nameOrArn;
}

function entrySize(entry: EventBridgeEntry): number {
  let size = 14; // for Time, as AWS counts it
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (typeof text === 'string') size += Buffer.byteLength(text, 'utf8');
  }
  return size;
}

function entryProblem(entry: EventBridgeEntry): PutEventsResult['Entries'][number] | undefined {
  for (const field of ['Source', 'DetailType', 'Detail'] as const) {
    if (typeof entry?.[field] !== 'string' || entry[field] === '') {
      return {
        ErrorCode: 'InvalidArgument',
        ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
      };
    }
  }
  try {
    const detail: unknown = JSON.parse(entry.Detail);
    if (typeof detail === 'object' && detail !== null && !Array.isArray(detail)) return undefined;
  } catch {
    // answered below
  }
  return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
}

/** SDK clients send Time as epoch seconds; in-process callers may pass an ISO string. */
function entryTime(time: unknown): Date | undefined {
  if (typeof time === 'number') return new Date(time * 1000);
  if (typeof time === 'string' && !Number.isNaN(Date.parse(time))) return new Date(time);
  if (time instanceof Date) return time;
  return undefined;
}

/** `2017-12-22T18:43:48Z`, as EventBridge writes `time`. */
function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function targetInput(target: EventTarget, event: EventEnvelope): unknown {
  if (target.Input !== undefined) return JSON.parse(target.Input);
  if (target.InputPath !== undefined) return readPath(event, target.InputPath);
  return event;
}

/** A JSONPath of dotted names (`$.detail.order`), as InputPath takes it. */
function readPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  let current: unknown = value;
  for (const key of path.replace(/^\$\.?/, '').split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function ok(body: unknown): AwsResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify(body),
  };
}

function error(failure: ApiError): AwsResponse {
  return {
    status: failure.status,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ __type: failure.type, message: failure.message }),
  };
}
