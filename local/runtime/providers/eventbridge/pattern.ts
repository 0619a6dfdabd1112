/**
 * EventBridge event-pattern matching, after AWS's "Content filtering in Amazon EventBridge
 * event patterns" and "Comparison operators" pages.
 *
 * - A pattern is a JSON object; every leaf is an array of matchers (OR), and sibling keys
 *   are ANDed. Nested objects match nested fields.
 * - Matchers: exact strings, numbers, booleans and `null`; `prefix` and `suffix` (each
 *   optionally `{"equals-ignore-case": ...}`); `equals-ignore-case`; `wildcard` (`*`);
 *   `anything-but` (a value, a list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`);
 *   `numeric` (`=`, `<`, `<=`, `>`, `>=`, in pairs for ranges); `exists` true/false; `cidr`
 *   (IPv4); and `$or` (a list of sub-patterns) at any object level.
 * - When the event's value is an array, the field matches if any element matches.
 *
 * `parseEventPattern` validates a pattern the way PutRule and TestEventPattern do and
 * throws {@link InvalidEventPatternError}; `matchesPattern` assumes a validated pattern.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The pattern is malformed (EventBridge's `InvalidEventPatternException`). */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternException';
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses (when given a string) and validates an event pattern.
 *
 * @example
 * const pattern = parseEventPattern('{"source":["orders"],"detail":{"total":[{"numeric":[">",100]}]}}');
 */
export function parseEventPattern(input: unknown): JsonObject {
  let pattern: unknown = input;
  if (typeof input === 'string') {
    try {
      pattern = JSON.parse(input);
    } catch {
      throw new InvalidEventPatternError('Event pattern is not valid. Reason: Invalid JSON');
    }
  }
  if (!isObject(pattern)) {
    throw new InvalidEventPatternError('Event pattern is not valid. Reason: Filter is not an object');
  }
  validateObject(pattern, '');
  return pattern;
}

function validateObject(pattern: JsonObject, path: string): void {
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isObject)) {
        throw invalid(`"$or" at ${at || 'the root'} must be an array of at least two objects`);
      }
      for (const branch of value) validateObject(branch as JsonObject, path);
    } else if (isObject(value)) {
      validateObject(value, at);
    } else if (Array.isArray(value)) {
      for (const matcher of value) validateMatcher(matcher, at);
    } else {
      throw invalid(`Match value must be String, number, true, false, or null at "${at}"`);
    }
  }
}

function validateMatcher(matcher: Json, at: string): void {
  if (!isObject(matcher)) {
    if (Array.isArray(matcher))
      throw invalid(`Match value must be String, number, true, false, or null at "${at}"`);
    return;
  }
  const keys = Object.keys(matcher);
  if (keys.length !== 1) throw invalid(`an operator object at "${at}" must have exactly one key`);
  const operator = keys[0] as string;
  const operand = matcher[operator] as Json;
  switch (operator) {
    case 'prefix':
    case 'suffix':
      if (typeof operand === 'string') return;
      if (
        isObject(operand) &&
        typeof operand['equals-ignore-case'] === 'string' &&
        Object.keys(operand).length === 1
      )
        return;
      throw invalid(`"${operator}" match pattern must be a string at "${at}"`);
    case 'equals-ignore-case':
    case 'wildcard':
      if (typeof operand !== 'string')
        throw invalid(`"${operator}" match pattern must be a string at "${at}"`);
      if (operator === 'wildcard' && operand.includes('**'))
        throw invalid(`Consecutive wildcard characters at pos ${operand.indexOf('**') + 1} at "${at}"`);
      return;
    case 'exists':
      if (typeof operand !== 'boolean')
        throw invalid(`exists match pattern must be either true or false at "${at}"`);
      return;
    case 'cidr':
      if (typeof operand !== 'string' || !parseCidr(operand)) throw invalid(`Malformed CIDR at "${at}"`);
      return;
    case 'numeric':
      parseNumeric(operand, at);
      return;
    case 'anything-but':
      validateAnythingBut(operand, at);
      return;
    default:
      throw invalid(`Unrecognized match type ${operator} at "${at}"`);
  }
}

function validateAnythingBut(operand: Json, at: string): void {
  if (typeof operand === 'string' || typeof operand === 'number') return;
  if (Array.isArray(operand)) {
    const allStrings = operand.every((value) => typeof value === 'string');
    const allNumbers = operand.every((value) => typeof value === 'number');
    if (operand.length > 0 && (allStrings || allNumbers)) return;
    throw invalid(`Inside anything but list, mixed types or non-scalar values are not allowed at "${at}"`);
  }
  if (isObject(operand) && Object.keys(operand).length === 1) {
    const [operator, value] = Object.entries(operand)[0] as [string, Json];
    const stringOrList =
      typeof value === 'string' ||
      (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string'));
    if (['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(operator) && stringOrList) return;
  }
  throw invalid(`Value of anything-but must be an array or single string/number value at "${at}"`);
}

type Comparison = readonly [string, number];

function parseNumeric(operand: Json, at: string): Comparison[] {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0 || operand.length > 4) {
    throw invalid(`Value of numeric must be an array of one or two operator/value pairs at "${at}"`);
  }
  const comparisons: Comparison[] = [];
  for (let index = 0; index < operand.length; index += 2) {
    const operator = operand[index];
    const value = operand[index + 1];
    if (typeof operator !== 'string' || !['=', '<', '<=', '>', '>='].includes(operator)) {
      throw invalid(`Unrecognized numeric range operator: ${JSON.stringify(operator)} at "${at}"`);
    }
    if (typeof value !== 'number') throw invalid(`Value of ${operator} must be numeric at "${at}"`);
    comparisons.push([operator, value]);
  }
  return comparisons;
}

function invalid(reason: string): InvalidEventPatternError {
  return new InvalidEventPatternError(`Event pattern is not valid. Reason: ${reason}`);
}

/**
 * True when `event` (an envelope with `detail` as an object) matches a validated pattern.
 *
 * @example
 * matchesPattern({ source: ['orders'] }, { source: 'orders', detail: {} }); // true
 */
export function matchesPattern(pattern: JsonObject, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: JsonObject, value: unknown): boolean {
  if (Array.isArray(value)) return value.some((element) => matchObject(pattern, element));
  const fields = isObject(value) ? value : undefined;
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(expected as Json[]).some((branch) => matchObject(branch as JsonObject, value))) return false;
      continue;
    }
    const present = fields !== undefined && Object.hasOwn(fields, key);
    const actual = present ? fields[key] : undefined;
    if (isObject(expected)) {
      if (!present || !matchObject(expected, actual)) return false;
      continue;
    }
    if (!matchLeaf(expected as Json[], present, actual)) return false;
  }
  return true;
}

function matchLeaf(matchers: readonly Json[], present: boolean, actual: Json | undefined): boolean {
  return matchers.some((matcher) => {
    if (isObject(matcher) && Object.hasOwn(matcher, 'exists')) {
      const exists = present && !(Array.isArray(actual) && actual.length === 0) && !isObject(actual);
      return matcher.exists === exists;
    }
    if (!present) return false;
    const values = Array.isArray(actual) ? actual : [actual as Json];
    return values.some((element) => matchValue(matcher, element));
  });
}

function matchValue(matcher: Json, value: Json): boolean {
  if (!isObject(matcher)) {
    return matcher === value;
  }
  const [operator, operand] = Object.entries(matcher)[0] as [string, Json];
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && affix(operand, value, (text, part) => text.startsWith(part));
    case 'suffix':
      return typeof value === 'string' && affix(operand, value, (text, part) => text.endsWith(part));
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === (operand as string).toLowerCase();
    case 'wildcard':
      return typeof value === 'string' && wildcard(operand as string, value);
    case 'numeric':
      return (
        typeof value === 'number' &&
        parseNumeric(operand, '').every(([op, bound]) => compare(op, value, bound))
      );
    case 'cidr':
      return typeof value === 'string' && inCidr(operand as string, value);
    case 'anything-but':
      return anythingBut(operand, value);
    default:
      return false;
  }
}

function affix(operand: Json, value: string, test: (text: string, part: string) => boolean): boolean {
  if (typeof operand === 'string') return test(value, operand);
  const part = (operand as JsonObject)['equals-ignore-case'] as string;
  return test(value.toLowerCase(), part.toLowerCase());
}

function anythingBut(operand: Json, value: Json): boolean {
  if (typeof operand === 'string' || typeof operand === 'number') return value !== operand;
  if (Array.isArray(operand)) return !operand.includes(value);
  const [operator, inner] = Object.entries(operand as JsonObject)[0] as [string, Json];
  if (typeof value !== 'string') return true;
  const parts = Array.isArray(inner) ? (inner as string[]) : [inner as string];
  return !parts.some((part) => {
    if (operator === 'prefix') return value.startsWith(part);
    if (operator === 'suffix') return value.endsWith(part);
    if (operator === 'equals-ignore-case') return value.toLowerCase() === part.toLowerCase();
    return wildcard(part, value);
  });
}

function compare(operator: string, value: number, bound: number): boolean {
  switch (operator) {
    case '=':
      return value === bound;
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    default:
      return value >= bound;
  }
}

function wildcard(pattern: string, value: string): boolean {
  const source = pattern
    .split(/(\\\*|\*)/)
    .map((part) =>
      part === '*' ? '.*' : part === '\\*' ? '\\*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

function parseCidr(cidr: string): { base: number; mask: number } | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const bits = match[5] === undefined ? 32 : Number(match[5]);
  if (octets.some((octet) => octet > 255) || bits > 32) return undefined;
  const address = octets.reduce((sum, octet) => sum * 256 + octet, 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (address & mask) >>> 0, mask };
}

function inCidr(cidr: string, value: string): boolean {
  const range = parseCidr(cidr);
  const address = parseCidr(value);
  if (!range || !address || !/^[\d.]+$/.test(value)) return false;
  return (address.base & range.mask) >>> 0 === range.base;
}
