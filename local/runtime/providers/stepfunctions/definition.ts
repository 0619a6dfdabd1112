/**
 * ASL definitions: parsing, `${Name}` substitutions, the per-state facts our layer needs,
 * and the copy the interpreter runs (with the Task timeouts taken over by our layer).
 */
import { InvalidDefinitionError } from './errors';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days). Longer delays fire at
 * once, so longer timeouts are left unenforced rather than enforced wrongly.
 */
export const MAX_TIMER_SECONDS = 2_147_483;

export interface StateSpec {
  readonly name: string;
  readonly type: string;
  readonly inputPath?: string | null;
  readonly itemsPath?: string;
}

export interface TaskSpec {
  readonly name: string;
  readonly resource: string;
  readonly timeoutSeconds?: number;
  readonly timeoutSecondsPath?: string;
  readonly heartbeatSeconds?: number;
  readonly heartbeatSecondsPath?: string;
}

export interface ParsedDefinition {
  /** The definition text after substitutions, as DescribeStateMachine returns it. */
  readonly text: string;
  readonly document: JsonObject;
  /** Every state, nested ones included (AWS requires state names to be unique). */
  readonly states: ReadonlyMap<string, StateSpec>;
  readonly tasks: ReadonlyMap<string, TaskSpec>;
}

/** Replaces each `${Name}` that `substitutions` defines, as CloudFormation does. */
export function applySubstitutions(
  text: string,
  substitutions: Readonly<Record<string, unknown>> = {},
): string {
  return text.replace(/\$\{([^}]+)\}/g, (placeholder, name: string) => {
    if (!Object.hasOwn(substitutions, name)) return placeholder;
    const value = substitutions[name];
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

export function parseDefinition(text: string): ParsedDefinition {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidDefinitionError(`Invalid State Machine Definition: '${(error as Error).message}'`, {
      cause: error,
    });
  }
  if (!isObject(document)) {
    throw new InvalidDefinitionError('Invalid State Machine Definition: the definition is not a JSON object');
  }
  const states = new Map<string, StateSpec>();
  const tasks = new Map<string, TaskSpec>();
  walkStates(document, (name, state) => {
    if (states.has(name)) {
      throw new InvalidDefinitionError(
        `Invalid State Machine Definition: 'DUPLICATE_STATE_NAME: Duplicate State name: ${name}'`,
      );
    }
    const type = typeof state.Type === 'string' ? state.Type : '';
    states.set(name, {
      name,
      type,
      inputPath:
        typeof state.InputPath === 'string' || state.InputPath === null ? state.InputPath : undefined,
      itemsPath: typeof state.ItemsPath === 'string' ? state.ItemsPath : undefined,
    });
    if (
      typeof state.HeartbeatSeconds === 'number' &&
      typeof state.TimeoutSeconds === 'number' &&
      state.HeartbeatSeconds >= state.TimeoutSeconds
    ) {
      throw new InvalidDefinitionError(
        `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value of HeartbeatSeconds must be less than the value of TimeoutSeconds at /States/${name}/HeartbeatSeconds'`,
      );
    }
    if (type === 'Task' && typeof state.Resource === 'string') {
      tasks.set(name, {
        name,
        resource: state.Resource,
        timeoutSeconds: numberOrUndefined(state.TimeoutSeconds),
        timeoutSecondsPath: stringOrUndefined(state.TimeoutSecondsPath),
        heartbeatSeconds: numberOrUndefined(state.HeartbeatSeconds),
        heartbeatSecondsPath: stringOrUndefined(state.HeartbeatSecondsPath),
      });
    }
  });
  return { text, document, states, tasks };
}

/**
 * The copy of the definition the interpreter runs. Our layer enforces Task `TimeoutSeconds`,
 * `TimeoutSecondsPath` and `HeartbeatSeconds` itself (it must cancel the task's token and
 * timers), so the interpreter's own Task timer, which defaults to 60 s, is set to the longest
 * a Node timer allows. Delays beyond that are dropped instead of firing at once. A Task with
 * a timer path also gets the state's input as an extra parameter ({@link STATE_INPUT_KEY}).
 */
/**
 * The key under which the interpreter copy's Parameters carry the state's input, for Tasks
 * whose `TimeoutSecondsPath` or `HeartbeatSecondsPath` must be read from it (as AWS does): the
 * interpreter hands our layer only the effective parameters. `runTask` takes it out again.
 */
export const STATE_INPUT_KEY = '__localStateInput';

export function interpreterDefinition(document: JsonObject): JsonObject {
  // Not structuredClone: under Jest it returns objects of another realm, and the interpreter
  // only expands Parameters objects whose prototype is its own realm's Object.prototype.
  const copy = JSON.parse(JSON.stringify(document)) as JsonObject;
  if (typeof copy.TimeoutSeconds === 'number' && copy.TimeoutSeconds > MAX_TIMER_SECONDS) {
    delete copy.TimeoutSeconds;
  }
  walkStates(copy, (_name, state) => {
    if (state.Type === 'Task') {
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
      const readsInput = state.TimeoutSecondsPath !== undefined || state.HeartbeatSecondsPath !== undefined;
      if (readsInput && isObject(state.Parameters)) state.Parameters[`${STATE_INPUT_KEY}.$`] = '$';
      delete state.TimeoutSecondsPath;
    } else if (
      state.Type === 'Wait' &&
      typeof state.Seconds === 'number' &&
      state.Seconds > MAX_TIMER_SECONDS
    ) {
      state.Seconds = MAX_TIMER_SECONDS;
    }
  });
  return copy;
}

function walkStates(machine: JsonObject, visit: (name: string, state: JsonObject) => void): void {
  const states = machine.States;
  if (!isObject(states)) return;
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    visit(name, state);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (isObject(processor)) walkStates(processor, visit);
    if (Array.isArray(state.Branches)) {
      for (const branch of state.Branches) if (isObject(branch)) walkStates(branch, visit);
    }
  }
}

/**
 * Reads an ASL reference path (`$`, `$.a.b`, `$.a[0]`, `$['a b']`) from `value`; `undefined`
 * when the path does not resolve or uses syntax beyond a reference path.
 *
 * @example
 * readReferencePath({ plan: { timeout: 30 } }, '$.plan.timeout'); // 30
 */
export function readReferencePath(value: JsonValue | undefined, path: string): JsonValue | undefined {
  if (!path.startsWith('$')) return undefined;
  let current: JsonValue | undefined = value;
  const segment = /^(?:\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\])/;
  let rest = path.slice(1);
  while (rest.length > 0) {
    const match = segment.exec(rest);
    if (!match || current === undefined || current === null || typeof current !== 'object') return undefined;
    const [token, dotted, index, single, double] = match;
    if (index !== undefined) {
      if (!Array.isArray(current)) return undefined;
      current = current[Number(index)];
    } else {
      if (Array.isArray(current)) return undefined;
      current = current[dotted ?? single ?? double ?? ''];
    }
    rest = rest.slice(token.length);
  }
  return current;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberOrUndefined(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function stringOrUndefined(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
