/**
 * Bearer tokens (DESIGN §5): HS256 JWTs signed with the key held in Secrets Manager.
 * Pure: keys come in as bytes, so the authorizer, the CLI and tests share this code.
 * A token carries `sub`, `role` (one of ROLES), `iss`, `aud`, `iat` and `exp`.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import * as z from 'zod';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from '#shared/config';
import { ROLES, type Role } from '#shared/routes';

/** Leeway for clocks that disagree a little about `exp`, `iat` and `nbf`. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Longest lifetime `signToken` accepts. */
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;

export interface TokenOptions {
  /** @default 'master-orchestrator' */
  readonly issuer?: string;
  /** @default 'master-orchestrator-api' */
  readonly audience?: string;
}

export interface TokenClaims {
  readonly sub: string;
  readonly role: Role;
}

/** Why a token was refused; logged by the authorizer, never shown to the caller. */
export type InvalidTokenReason = 'MALFORMED' | 'BAD_SIGNATURE' | 'EXPIRED' | 'WRONG_CLAIMS' | 'NO_KEY';

export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
  constructor(
    readonly reason: InvalidTokenReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const Claims = z.object({ sub: z.string().min(1).max(128), role: z.enum(ROLES) });

/** The signing key's bytes: the secret string is the key. */
export function keyFromSecret(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

/**
 * Signs a token for `sub` with `role`, valid for `ttlSeconds`.
 * @example
 * const token = await signToken({ sub: 'ops-1', role: 'operator', ttlSeconds: 3600 }, keyFromSecret(secret));
 */
export async function signToken(
  claims: TokenClaims & { readonly ttlSeconds: number },
  key: Uint8Array,
  options: TokenOptions = {},
): Promise<string> {
  const { sub, role } = Claims.parse(claims);
  if (
    !Number.isInteger(claims.ttlSeconds) ||
    claims.ttlSeconds < 1 ||
    claims.ttlSeconds > MAX_TOKEN_TTL_SECONDS
  )
    throw new RangeError(`ttlSeconds must be an integer from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(options.issuer ?? DEFAULT_JWT_ISSUER)
    .setAudience(options.audience ?? DEFAULT_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds}s`)
    .sign(key);
}

/**
 * Verifies `token` against each key in turn (current first, then previous), so tokens
 * signed before a key rotation stay valid until they expire.
 * @throws InvalidTokenError with the reason.
 * @example
 * const { sub, role } = await verifyToken(token, [currentKey, previousKey]);
 */
export async function verifyToken(
  token: string,
  keys: readonly Uint8Array[],
  options: TokenOptions = {},
): Promise<TokenClaims> {
  if (keys.length === 0) throw new InvalidTokenError('NO_KEY', 'no signing key is available');
  let lastError: unknown;
  for (const key of keys) {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        issuer: options.issuer ?? DEFAULT_JWT_ISSUER,
        audience: options.audience ?? DEFAULT_JWT_AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp'],
      });
      const claims = Claims.safeParse(payload);
      if (!claims.success)
        throw new InvalidTokenError(
          'WRONG_CLAIMS',
          `the token's claims are invalid: ${claims.error.message}`,
        );
      return claims.data;
    } catch (error) {
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) throw asInvalidToken(error);
      lastError = error;
    }
  }
  throw new InvalidTokenError('BAD_SIGNATURE', 'no signing key matches the token', { cause: lastError });
}

function asInvalidToken(error: unknown): InvalidTokenError {
  if (error instanceof InvalidTokenError) return error;
  if (error instanceof errors.JWTExpired)
    return new InvalidTokenError('EXPIRED', error.message, { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed)
    return new InvalidTokenError('WRONG_CLAIMS', error.message, { cause: error });
  return new InvalidTokenError('MALFORMED', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
