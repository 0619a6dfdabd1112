/**
 * Lambda authorizers (TOKEN and REQUEST) as API Gateway runs them for a REST method:
 *
 * - a missing or blank identity source → 401 UNAUTHORIZED, without invoking the function
 *   (and a TOKEN that fails IdentityValidationExpression, likewise);
 * - the function fails with the message `Unauthorized` → 401 UNAUTHORIZED;
 * - any other failure, a timeout, or an output that is not a valid policy → 500
 *   AUTHORIZER_CONFIGURATION_ERROR with a null message (AWS's `{"message":null}`);
 * - the policy explicitly denies the method ARN, or allows nothing that matches it → 403
 *   ACCESS_DENIED (`*` and `?` wildcards in Resource);
 * - otherwise the principal and context go on to the integration.
 *
 * A decision (policy, principal, context) is cached per authorizer and identity-source
 * values for AuthorizerResultTtlInSeconds (0 turns the cache off) and is re-evaluated
 * against each request's method ARN, as AWS does; concurrent first calls share one invocation.
 */
import type { LambdaInvoker, LambdaResult } from '../../types';
import { GatewayError } from './gateway-responses';
import type { AuthorizerState } from './model';

/** What the integration sees in `requestContext.authorizer`, before `integrationLatency` is added. */
export interface AuthorizerOutcome {
  readonly principalId: string;
  /** Context values as API Gateway passes them to a proxy integration: strings. */
  readonly context: Readonly<Record<string, string>>;
  /** How long the authorizer took, in ms; 0 when served from the cache. */
  readonly latencyMs: number;
}

export interface AuthorizeRequest {
  readonly authorizer: AuthorizerState;
  /** `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path>`. */
  readonly methodArn: string;
  /** Resolves one identity source (`method.request.header.Authorization`, ...) for this request. */
  readonly identityValue: (source: string) => string | undefined;
  /** Builds the event the function receives (TOKEN or REQUEST shape). */
  readonly buildEvent: () => unknown;
}

export interface LambdaAuthorizerOptions {
  readonly now: () => number;
  readonly timeoutMs: number;
  readonly log: (message: string) => void;
  /** Bound on cached decisions; the oldest go first. @default 10_000 */
  readonly maxCacheEntries?: number;
}

interface Decision {
  readonly principalId: string;
  readonly statements: readonly Statement[];
  readonly context: Readonly<Record<string, string>>;
}

interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

interface CacheEntry {
  readonly expiresAt: number;
  readonly decision: Promise<Decision>;
}

export const UNAUTHORIZED_MESSAGE = 'Unauthorized';
const EXPLICIT_DENY = 'User is not authorized to access this resource with an explicit deny';
const IMPLICIT_DENY = 'User is not authorized to access this resource';

export class LambdaAuthorizers {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly maxCacheEntries: number;

  constructor(private readonly options: LambdaAuthorizerOptions) {
    this.maxCacheEntries = options.maxCacheEntries ?? 10_000;
  }

  /** Decides one request; throws a GatewayError for every outcome but Allow. */
  async authorize(request: AuthorizeRequest, lambda: LambdaInvoker | undefined): Promise<AuthorizerOutcome> {
    const { authorizer } = request;
    if (authorizer.type !== 'TOKEN' && authorizer.type !== 'REQUEST')
      throw this.configurationError(
        `authorizer ${authorizer.name}: type ${authorizer.type} is not supported offline`,
      );
    const values = authorizer.identitySources.map((source) => request.identityValue(source));
    if (values.some((value) => value === undefined || value.trim() === ''))
      throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE);
    if (
      authorizer.type === 'TOKEN' &&
      authorizer.identityValidationExpression &&
      !new RegExp(authorizer.identityValidationExpression).test(values[0] ?? '')
    )
      throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE);

    const started = this.options.now();
    const decision = await this.decide(request, values as string[], lambda);
    const latencyMs = Math.max(0, this.options.now() - started);
    const effect = evaluatePolicy(decision.statements, request.methodArn);
    if (effect === 'Deny') throw new GatewayError('ACCESS_DENIED', EXPLICIT_DENY);
    if (effect !== 'Allow') throw new GatewayError('ACCESS_DENIED', IMPLICIT_DENY);
    return { principalId: decision.principalId, context: decision.context, latencyMs };
  }

  private decide(
    request: AuthorizeRequest,
    values: readonly string[],
    lambda: LambdaInvoker | undefined,
  ): Promise<Decision> {
    const { authorizer } = request;
    if (authorizer.ttlSeconds <= 0) return this.invoke(request, lambda);
    const key = `${authorizer.id}\u0000${values.join('\u0000')}`;
    const now = this.options.now();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.decision;
    const decision = this.invoke(request, lambda);
    this.remember(key, { expiresAt: now + authorizer.ttlSeconds * 1000, decision });
    // A failed decision is not kept: the next request asks the function again.
    decision.catch(() => {
      if (this.cache.get(key)?.decision === decision) this.cache.delete(key);
    });
    return decision;
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    if (this.cache.size >= this.maxCacheEntries) {
      const now = this.options.now();
      for (const [k, e] of this.cache) if (e.expiresAt <= now) this.cache.delete(k);
      while (this.cache.size >= this.maxCacheEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest === undefined) break;
        this.cache.delete(oldest);
      }
    }
    this.cache.set(key, entry);
  }

  private async invoke(request: AuthorizeRequest, lambda: LambdaInvoker | undefined): Promise<Decision> {
    const { authorizer } = request;
    if (!authorizer.functionArn)
      throw this.configurationError(`authorizer ${authorizer.name} has no Lambda function`);
    if (!lambda) throw this.configurationError('no Lambda provider is registered');
    let result: LambdaResult;
    try {
      result = await withTimeout(
        lambda.invoke(authorizer.functionArn, request.buildEvent()),
        this.options.timeoutMs,
      );
    } catch (cause) {
      throw this.configurationError(`authorizer ${authorizer.name} did not answer: ${String(cause)}`, cause);
    }
    if (!result.ok) {
      if (result.errorMessage === UNAUTHORIZED_MESSAGE)
        throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE);
      throw this.configurationError(
        `authorizer ${authorizer.name} failed: ${result.errorType}: ${result.errorMessage}`,
      );
    }
    const decision = parseDecision(result.payload);
    if (typeof decision === 'string')
      throw this.configurationError(
        `authorizer ${authorizer.name} returned an invalid response: ${decision}`,
      );
    return decision;
  }

  private configurationError(reason: string, cause?: unknown): GatewayError {
    this.options.log(`execute-api: ${reason}`);
    return new GatewayError('AUTHORIZER_CONFIGURATION_ERROR', null, { cause });
  }
}

/** The authorizer's output as a decision, or why it is not one. */
function parseDecision(payload: unknown): Decision | string {
  if (typeof payload !== 'object' || payload === null) return 'not a JSON object';
  const output = payload as Record<string, unknown>;
  const principalId = output.principalId;
  if (typeof principalId !== 'string' && typeof principalId !== 'number') return 'principalId is missing';
  const document = output.policyDocument;
  if (typeof document !== 'object' || document === null) return 'policyDocument is missing';
  const rawStatements = (document as Record<string, unknown>).Statement;
  const list = Array.isArray(rawStatements) ? rawStatements : rawStatements ? [rawStatements] : [];
  const statements: Statement[] = [];
  for (const raw of list) {
    if (typeof raw !== 'object' || raw === null) return 'a Statement is not an object';
    const statement = raw as Record<string, unknown>;
    if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') return 'a Statement has no valid Effect';
    statements.push({
      effect: statement.Effect,
      actions: asStrings(statement.Action),
      resources: asStrings(statement.Resource),
    });
  }
  const context: Record<string, string> = {};
  const rawContext = output.context ?? {};
  if (typeof rawContext !== 'object' || rawContext === null || Array.isArray(rawContext))
    return 'context is not an object';
  for (const [key, value] of Object.entries(rawContext)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'object') return `context.${key} is not a string, number or boolean`;
    context[key] = String(value);
  }
  return { principalId: String(principalId), statements, context };
}

/** Explicit Deny beats Allow; undefined when no statement matches. */
export function evaluatePolicy(
  statements: readonly Statement[],
  methodArn: string,
): 'Allow' | 'Deny' | undefined {
  const matching = statements.filter(
    (s) =>
      s.actions.some(matchesInvokeAction) &&
      s.resources.some((resource) => wildcardMatch(resource, methodArn)),
  );
  if (matching.some((s) => s.effect === 'Deny')) return 'Deny';
  return matching.some((s) => s.effect === 'Allow') ? 'Allow' : undefined;
}

function matchesInvokeAction(action: string): boolean {
  return wildcardMatch(action.toLowerCase(), 'execute-api:invoke');
}

/** IAM-style matching: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

function asStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Rejects with a TimeoutError after `ms`; the timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}
