/**
 * The subset of Apache Velocity (VTL 1.7, what API Gateway runs) that gateway-response
 * and MOCK integration templates use:
 *
 * - references: `$a.b`, `$!a.b`, `${a.b}`, `$a.get("x")`, `$a.b(…)`, `$a[0]`; identifiers may
 *   contain `-` as in Velocity 1.7, so `$context.responseOverride.header.Access-Control-Allow-Origin` works;
 * - directives: `#set`, `#if` / `#elseif` / `#else` / `#end`, `##` and `#* … *#` comments;
 * - expressions: string, number, boolean and null literals, references, `== != && || !`
 *   (and `eq ne and or not`), parentheses.
 *
 * `#foreach`, `#macro` and string interpolation inside double-quoted literals are not
 * supported; an unknown directive is output as text. A reference that resolves to
 * nothing renders as the empty string (API Gateway's behaviour for `$context` variables).
 */

/** A VTL map: `get`, `containsKey`, `keySet`, `size`, `isEmpty`; header maps ignore case. */
export class VtlMap {
  private readonly entries: Map<string, unknown>;

  constructor(
    entries: Iterable<readonly [string, unknown]>,
    private readonly ignoreCase = false,
  ) {
    this.entries = new Map([...entries].map(([key, value]) => [this.keyOf(key), value]));
  }

  get(key: unknown): unknown {
    return this.entries.get(this.keyOf(String(key)));
  }

  containsKey(key: unknown): boolean {
    return this.entries.has(this.keyOf(String(key)));
  }

  keySet(): string[] {
    return [...this.entries.keys()];
  }

  size(): number {
    return this.entries.size;
  }

  isEmpty(): boolean {
    return this.entries.size === 0;
  }

  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.entries);
  }

  private keyOf(key: string): string {
    return this.ignoreCase ? key.toLowerCase() : key;
  }
}

export class VtlSyntaxError extends Error {
  override readonly name = 'VtlSyntaxError';
}

type Expr =
  | { readonly kind: 'literal'; readonly value: unknown }
  | { readonly kind: 'ref'; readonly ref: Reference }
  | { readonly kind: 'not'; readonly operand: Expr }
  | {
      readonly kind: 'binary';
      readonly op: '==' | '!=' | '&&' | '||';
      readonly left: Expr;
      readonly right: Expr;
    };

type Step =
  | { readonly kind: 'prop'; readonly name: string }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[] }
  | { readonly kind: 'index'; readonly index: Expr };

interface Reference {
  readonly root: string;
  readonly steps: readonly Step[];
}

type Node =
  | { readonly kind: 'text'; text: string }
  | { readonly kind: 'ref'; readonly ref: Reference; readonly quiet: boolean }
  | { readonly kind: 'set'; readonly target: Reference; readonly value: Expr }
  | {
      readonly kind: 'if';
      readonly branches: { readonly condition: Expr; readonly body: Node[] }[];
      otherwise?: Node[];
    };

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_-]/;

/**
 * Renders `template` against `scope`. `#set` on a nested path (e.g.
 * `$context.responseOverride.status`) writes into the scope's objects, so the caller
 * reads overrides back from them.
 * @example
 * renderVtl('{"message":$context.error.messageString}', { context: { error: { messageString: '"No"' } } });
 * // → '{"message":"No"}'
 */
export function renderVtl(template: string, scope: Record<string, unknown>): string {
  const nodes = new Parser(template).parseBody(new Set());
  const locals = new Map<string, unknown>();
  return renderNodes(nodes, scope, locals);
}

// ---------------------------------------------------------------- parser

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  /** Parses until one of `stops` (`elseif`, `else`, `end`) or the end of input. */
  parseBody(stops: ReadonlySet<string>): Node[] {
    const nodes: Node[] = [];
    let text = '';
    const flush = () => {
      if (text) nodes.push({ kind: 'text', text });
      text = '';
    };
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos] as string;
      if (ch === '#' && this.src.startsWith('##', this.pos)) {
        const end = this.src.indexOf('\n', this.pos);
        this.pos = end < 0 ? this.src.length : end + 1;
        continue;
      }
      if (ch === '#' && this.src.startsWith('#*', this.pos)) {
        const end = this.src.indexOf('*#', this.pos + 2);
        this.pos = end < 0 ? this.src.length : end + 2;
        continue;
      }
      if (ch === '#') {
        const directive = this.peekDirective();
        if (directive && stops.has(directive)) {
          text = gobbleLineStart(text);
          flush();
          return nodes;
        }
        if (directive === 'set' || directive === 'if') {
          text = gobbleLineStart(text);
          flush();
          nodes.push(directive === 'set' ? this.parseSet() : this.parseIf());
          this.gobbleLineEnd();
          continue;
        }
      }
      if (ch === '$') {
        const start = this.pos;
        const ref = this.tryParseReferenceNode();
        if (ref) {
          flush();
          nodes.push(ref);
          continue;
        }
        this.pos = start + 1;
        text += '$';
        continue;
      }
      text += ch;
      this.pos += 1;
    }
    flush();
    if (stops.size > 0) throw new VtlSyntaxError('missing #end');
    return nodes;
  }

  /** The directive name at `#`, without consuming it. */
  private peekDirective(): string | undefined {
    const match = /^#\{?(set|if|elseif|else|end|foreach|macro)\b\}?/.exec(
      this.src.slice(this.pos, this.pos + 12),
    );
    return match?.[1];
  }

  private consumeDirectiveName(name: string): void {
    const match = new RegExp(`^#\\{?${name}\\}?`).exec(this.src.slice(this.pos));
    if (!match) throw new VtlSyntaxError(`expected #${name}`);
    this.pos += match[0].length;
  }

  private parseSet(): Node {
    this.consumeDirectiveName('set');
    this.skipSpaces();
    this.expect('(');
    this.skipSpaces();
    if (this.src[this.pos] !== '$') throw new VtlSyntaxError('#set needs a reference');
    this.pos += 1;
    if (this.src[this.pos] === '!') this.pos += 1;
    const braced = this.src[this.pos] === '{';
    if (braced) this.pos += 1;
    const target = this.parseReferenceBody();
    if (!target) throw new VtlSyntaxError('#set needs a reference');
    if (braced) this.expect('}');
    this.skipSpaces();
    this.expect('=');
    const value = this.parseExpression();
    this.skipSpaces();
    this.expect(')');
    return { kind: 'set', target, value };
  }

  private parseIf(): Node {
    this.consumeDirectiveName('if');
    const branches: { condition: Expr; body: Node[] }[] = [];
    let condition = this.parseCondition();
    this.gobbleLineEnd();
    const node: Node & { kind: 'if' } = { kind: 'if', branches };
    for (;;) {
      const body = this.parseBody(new Set(['elseif', 'else', 'end']));
      branches.push({ condition, body });
      const directive = this.peekDirective();
      if (directive === 'elseif') {
        this.consumeDirectiveName('elseif');
        condition = this.parseCondition();
        this.gobbleLineEnd();
        continue;
      }
      if (directive === 'else') {
        this.consumeDirectiveName('else');
        this.gobbleLineEnd();
        node.otherwise = this.parseBody(new Set(['end']));
      }
      this.consumeDirectiveName('end');
      return node;
    }
  }

  private parseCondition(): Expr {
    this.skipSpaces();
    this.expect('(');
    const condition = this.parseExpression();
    this.skipSpaces();
    this.expect(')');
    return condition;
  }

  private tryParseReferenceNode(): Node | undefined {
    this.pos += 1; // '$'
    let quiet = false;
    if (this.src[this.pos] === '!') {
      quiet = true;
      this.pos += 1;
    }
    if (this.src[this.pos] === '{') {
      this.pos += 1;
      const ref = this.parseReferenceBody();
      if (!ref || this.src[this.pos] !== '}') return undefined;
      this.pos += 1;
      return { kind: 'ref', ref, quiet };
    }
    const ref = this.parseReferenceBody();
    return ref ? { kind: 'ref', ref, quiet } : undefined;
  }

  /** `ident(.ident | .ident(args) | [expr])*`, after the `$`. */
  private parseReferenceBody(): Reference | undefined {
    const root = this.readIdentifier();
    if (!root) return undefined;
    const steps: Step[] = [];
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === '.' && IDENT_START.test(this.src[this.pos + 1] ?? '')) {
        this.pos += 1;
        const name = this.readIdentifier() as string;
        if (this.src[this.pos] === '(') {
          this.pos += 1;
          steps.push({ kind: 'call', name, args: this.parseArguments() });
        } else steps.push({ kind: 'prop', name });
        continue;
      }
      if (ch === '[') {
        this.pos += 1;
        const index = this.parseExpression();
        this.skipSpaces();
        this.expect(']');
        steps.push({ kind: 'index', index });
        continue;
      }
      return { root, steps };
    }
  }

  private parseArguments(): Expr[] {
    const args: Expr[] = [];
    this.skipSpaces();
    if (this.src[this.pos] === ')') {
      this.pos += 1;
      return args;
    }
    for (;;) {
      args.push(this.parseExpression());
      this.skipSpaces();
      if (this.src[this.pos] === ',') {
        this.pos += 1;
        continue;
      }
      this.expect(')');
      return args;
    }
  }

  private readIdentifier(): string | undefined {
    if (!IDENT_START.test(this.src[this.pos] ?? '')) return undefined;
    const start = this.pos;
    while (IDENT_PART.test(this.src[this.pos] ?? '')) this.pos += 1;
    // A trailing `-` belongs to the text, not the name (`$a-` renders $a then "-").
    while (this.src[this.pos - 1] === '-') this.pos -= 1;
    return this.src.slice(start, this.pos);
  }

  private parseExpression(): Expr {
    return this.parseBinary(0);
  }

  private static readonly LEVELS: readonly (readonly ['||' | '&&' | '==' | '!=', RegExp])[][] = [
    [['||', /^(\|\||or\b)/]],
    [['&&', /^(&&|and\b)/]],
    [
      ['==', /^(==|eq\b)/],
      ['!=', /^(!=|ne\b)/],
    ],
  ];

  private parseBinary(level: number): Expr {
    if (level >= Parser.LEVELS.length) return this.parseUnary();
    let left = this.parseBinary(level + 1);
    for (;;) {
      this.skipSpaces();
      const rest = this.src.slice(this.pos, this.pos + 3);
      const found = (Parser.LEVELS[level] ?? []).find(([, pattern]) => pattern.test(rest));
      if (!found) return left;
      this.pos += (found[1].exec(rest)?.[0] ?? '').length;
      left = { kind: 'binary', op: found[0], left, right: this.parseBinary(level + 1) };
    }
  }

  private parseUnary(): Expr {
    this.skipSpaces();
    if (this.src[this.pos] === '!' && this.src[this.pos + 1] !== '=') {
      this.pos += 1;
      return { kind: 'not', operand: this.parseUnary() };
    }
    if (/^not\b/.test(this.src.slice(this.pos, this.pos + 4))) {
      this.pos += 3;
      return { kind: 'not', operand: this.parseUnary() };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Expr {
    this.skipSpaces();
    const ch = this.src[this.pos];
    if (ch === '(') {
      this.pos += 1;
      const inner = this.parseExpression();
      this.skipSpaces();
      this.expect(')');
      return inner;
    }
    if (ch === '"' || ch === "'") return { kind: 'literal', value: this.readString(ch) };
    if (ch === '$') {
      this.pos += 1;
      if (this.src[this.pos] === '!') this.pos += 1;
      const braced = this.src[this.pos] === '{';
      if (braced) this.pos += 1;
      const ref = this.parseReferenceBody();
      if (!ref) throw new VtlSyntaxError(`bad reference at ${this.pos}`);
      if (braced) this.expect('}');
      return { kind: 'ref', ref };
    }
    const rest = this.src.slice(this.pos);
    const number = /^-?\d+(\.\d+)?/.exec(rest);
    if (number) {
      this.pos += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    const word = /^(true|false|null)\b/.exec(rest);
    if (word) {
      this.pos += word[0].length;
      return { kind: 'literal', value: word[1] === 'null' ? null : word[1] === 'true' };
    }
    throw new VtlSyntaxError(`unexpected ${JSON.stringify(rest.slice(0, 10))}`);
  }

  private readString(quote: string): string {
    this.pos += 1;
    let value = '';
    while (this.pos < this.src.length && this.src[this.pos] !== quote) {
      if (this.src[this.pos] === '\\' && this.src[this.pos + 1] === quote) this.pos += 1;
      value += this.src[this.pos];
      this.pos += 1;
    }
    this.expect(quote);
    return value;
  }

  private skipSpaces(): void {
    while (/\s/.test(this.src[this.pos] ?? '')) this.pos += 1;
  }

  private expect(ch: string): void {
    if (this.src[this.pos] !== ch) throw new VtlSyntaxError(`expected '${ch}' at ${this.pos}`);
    this.pos += 1;
  }

  /** Velocity drops the rest of a line that holds only a directive, newline included. */
  private gobbleLineEnd(): void {
    const match = /^[ \t]*\r?\n/.exec(this.src.slice(this.pos));
    if (match) this.pos += match[0].length;
  }
}

/** Drops the indentation before a directive that starts its line. */
function gobbleLineStart(text: string): string {
  const match = /(^|\n)[ \t]*$/.exec(text);
  return match ? text.slice(0, match.index + (match[1] ?? '').length) : text;
}

// ---------------------------------------------------------------- evaluation

function renderNodes(
  nodes: readonly Node[],
  scope: Record<string, unknown>,
  locals: Map<string, unknown>,
): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += node.text;
        break;
      case 'ref':
        out += stringify(evaluateReference(node.ref, scope, locals));
        break;
      case 'set':
        assign(node.target, evaluate(node.value, scope, locals), scope, locals);
        break;
      case 'if': {
        const branch = node.branches.find((b) => truthy(evaluate(b.condition, scope, locals)));
        const body = branch ? branch.body : node.otherwise;
        if (body) out += renderNodes(body, scope, locals);
        break;
      }
    }
  }
  return out;
}

function evaluate(expr: Expr, scope: Record<string, unknown>, locals: Map<string, unknown>): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'ref':
      return evaluateReference(expr.ref, scope, locals);
    case 'not':
      return !truthy(evaluate(expr.operand, scope, locals));
    case 'binary': {
      const left = evaluate(expr.left, scope, locals);
      if (expr.op === '&&') return truthy(left) && truthy(evaluate(expr.right, scope, locals));
      if (expr.op === '||') return truthy(left) || truthy(evaluate(expr.right, scope, locals));
      const equal = vtlEquals(left, evaluate(expr.right, scope, locals));
      return expr.op === '==' ? equal : !equal;
    }
  }
}

function evaluateReference(
  ref: Reference,
  scope: Record<string, unknown>,
  locals: Map<string, unknown>,
): unknown {
  let value: unknown = locals.has(ref.root) ? locals.get(ref.root) : scope[ref.root];
  for (const step of ref.steps) {
    if (value === undefined || value === null) return undefined;
    if (step.kind === 'prop') value = property(value, step.name);
    else if (step.kind === 'index') value = property(value, String(evaluate(step.index, scope, locals)));
    else
      value = call(
        value,
        step.name,
        step.args.map((arg) => evaluate(arg, scope, locals)),
      );
  }
  return value;
}

function property(target: unknown, name: string): unknown {
  if (target instanceof VtlMap) return target.get(name);
  if (typeof target === 'string' && name === 'length') return target.length;
  if (typeof target === 'object' && target !== null && Object.hasOwn(target, name))
    return (target as Record<string, unknown>)[name];
  return undefined;
}

function call(target: unknown, name: string, args: readonly unknown[]): unknown {
  if (target instanceof VtlMap) {
    switch (name) {
      case 'get':
        return target.get(args[0]);
      case 'containsKey':
        return target.containsKey(args[0]);
      case 'keySet':
        return target.keySet();
      case 'size':
        return target.size();
      case 'isEmpty':
        return target.isEmpty();
      default:
        return undefined;
    }
  }
  if (typeof target === 'object' && target !== null) {
    const member = (target as Record<string, unknown>)[name];
    if (typeof member === 'function')
      return (member as (...a: unknown[]) => unknown).apply(target, [...args]);
    if (name === 'get') return property(target, String(args[0]));
    if (name === 'containsKey') return Object.hasOwn(target, String(args[0]));
    if (name === 'size') return Array.isArray(target) ? target.length : Object.keys(target).length;
    if (name === 'isEmpty') return (Array.isArray(target) ? target.length : Object.keys(target).length) === 0;
    return undefined;
  }
  if (typeof target === 'string') {
    switch (name) {
      case 'length':
        return target.length;
      case 'toLowerCase':
        return target.toLowerCase();
      case 'toUpperCase':
        return target.toUpperCase();
      case 'trim':
        return target.trim();
      case 'isEmpty':
        return target.length === 0;
      case 'equals':
        return target === args[0];
      case 'contains':
        return target.includes(String(args[0]));
      case 'startsWith':
        return target.startsWith(String(args[0]));
      case 'endsWith':
        return target.endsWith(String(args[0]));
      case 'toString':
        return target;
      default:
        return undefined;
    }
  }
  return name === 'toString' ? String(target) : undefined;
}

/** `#set($a.b.c = v)`: a local for a bare name, else a write into the scope's objects. */
function assign(
  target: Reference,
  value: unknown,
  scope: Record<string, unknown>,
  locals: Map<string, unknown>,
): void {
  const names = target.steps.map((step) => {
    if (step.kind !== 'prop') throw new VtlSyntaxError('#set supports only property paths');
    return step.name;
  });
  const last = names.pop();
  if (last === undefined) {
    locals.set(target.root, value);
    return;
  }
  let holder: Record<string, unknown>;
  if (locals.has(target.root)) holder = asObject(locals.get(target.root));
  else {
    scope[target.root] = asObject(scope[target.root]);
    holder = scope[target.root] as Record<string, unknown>;
  }
  for (const name of names) {
    holder[name] = asObject(holder[name]);
    holder = holder[name] as Record<string, unknown>;
  }
  holder[last] = value;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  return true;
}

function vtlEquals(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (left === undefined || left === null || right === undefined || right === null) return false;
  if (typeof left === 'number' && typeof right === 'number') return left === right;
  return stringify(left) === stringify(right);
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
