/**
 * The Lambda authorizer's decision, separate from key loading so it can be tested
 * with keys in hand. API Gateway's contract: return an Allow policy with the
 * principal and context, or throw `Error('Unauthorized')` for a 401.
 */
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { InvalidTokenError, type TokenClaims } from '#shared/auth/jwt';

/** The parts of a REST (REQUEST type) or WebSocket `$connect` authorizer event we read. */
export interface AuthorizerEvent {
  readonly methodArn: string;
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>> | null;
}

export type VerifyBearer = (token: string) => Promise<TokenClaims>;

/** API Gateway turns exactly this message into a 401. */
export const UNAUTHORIZED = 'Unauthorized';

/**
 * Decides one request: Allow with `{ sub, role }` in the context, or throws Unauthorized
 * when the token is missing or refused (`verify` throws InvalidTokenError). Any other
 * failure of `verify` propagates, and API Gateway answers 500.
 * @param onDenied receives the reason (never the token) for the log.
 * @example
 * const result = await authorizeRequest(event, (token) => verifyToken(token, keys));
 */
export async function authorizeRequest(
  event: AuthorizerEvent,
  verify: VerifyBearer,
  onDenied: (reason: string, error?: unknown) => void = () => {},
): Promise<APIGatewayAuthorizerResult> {
  const token = bearerToken(event);
  if (!token) {
    onDenied('no bearer token');
    throw new Error(UNAUTHORIZED);
  }
  let claims: TokenClaims;
  try {
    claims = await verify(token);
  } catch (error) {
    // Only a bad token is a 401; a key store outage must surface as a 500, not blame the caller.
    if (!(error instanceof InvalidTokenError)) throw error;
    onDenied(`token refused: ${error.reason}`, error);
    throw new Error(UNAUTHORIZED);
  }
  return {
    principalId: claims.sub,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWideResource(event.methodArn) },
      ],
    },
    context: { sub: claims.sub, role: claims.role },
  };
}

/** `Authorization: Bearer <jwt>` (any header-name case), else the `token` query parameter (WebSocket). */
export function bearerToken(event: AuthorizerEvent): string | undefined {
  const header = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'authorization',
  )?.[1];
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (match?.[1]) return match[1];
  const query = event.queryStringParameters?.token?.trim();
  return query ? query : undefined;
}

/**
 * Widens the invoked method's ARN to the whole stage, so API Gateway's per-token
 * policy cache holds for every route, not just the first one called:
 * `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/*\/*` for REST, and
 * `.../<apiId>/<stage>/*` for a WebSocket route such as `$connect`.
 */
export function stageWideResource(methodArn: string): string {
  const parts = methodArn.split(':');
  const path = parts[5];
  if (parts.length !== 6 || !path) throw new Error(`unexpected methodArn: ${methodArn}`);
  const [apiId, stage, ...rest] = path.split('/');
  const suffix = rest.length >= 2 ? '*/*' : '*';
  return `${parts.slice(0, 5).join(':')}:${apiId}/${stage}/${suffix}`;
}
