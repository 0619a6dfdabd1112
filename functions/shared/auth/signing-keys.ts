/**
 * The JWT signing keys: the AWSCURRENT and AWSPREVIOUS versions of the secret named by
 * JWT_SECRET_ARN. Verifying against both keeps tokens signed before a rotation valid;
 * signing always uses AWSCURRENT. The secret string is the key (its UTF-8 bytes).
 *
 * Caching: Powertools parameters keep each version for SECRET_MAX_AGE_SECONDS. Its
 * cache key is the secret name alone, not the version stage, so each stage gets its
 * own SecretsProvider; one `getSecret` cache would hand AWSCURRENT back for
 * AWSPREVIOUS. Before the first rotation there is no AWSPREVIOUS; that absence is
 * remembered for the same time, so it costs one call per cache period, not one per
 * request. After a rotation, warm functions still hold the old pair; a token that no
 * cached key verifies triggers one forced refresh, at most once per REFRESH_INTERVAL_MS.
 */

import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  InvalidTokenError,
  keyFromSecret,
  type TokenClaims,
  type TokenOptions,
  verifyToken,
} from '#shared/auth/jwt';

export const SECRET_MAX_AGE_SECONDS = 300;
export const REFRESH_INTERVAL_MS = 60_000;

export type SecretStage = 'AWSCURRENT' | 'AWSPREVIOUS';

/** Reads one version of the secret; undefined when that version does not exist. */
export type ReadSecretStage = (
  stage: SecretStage,
  options: { forceFetch: boolean },
) => Promise<string | undefined>;

/**
 * Reads the secret's versions through Powertools parameters, cached.
 * @example
 * const keys = new SigningKeys(secretStagesFromSecretsManager(config.JWT_SECRET_ARN, secretsManager));
 */
export function secretStagesFromSecretsManager(
  secretId: string,
  client: SecretsManagerClient,
  maxAgeSeconds = SECRET_MAX_AGE_SECONDS,
): ReadSecretStage {
  const providers: Record<SecretStage, SecretsProvider> = {
    AWSCURRENT: new SecretsProvider({ awsSdkV3Client: client }),
    AWSPREVIOUS: new SecretsProvider({ awsSdkV3Client: client }),
  };
  let previousMissingUntil = 0;
  return async (stage, { forceFetch }) => {
    if (stage === 'AWSPREVIOUS' && !forceFetch && Date.now() < previousMissingUntil) return undefined;
    try {
      const value = await providers[stage].get(secretId, {
        maxAge: maxAgeSeconds,
        forceFetch,
        sdkOptions: { VersionStage: stage },
      });
      return typeof value === 'string' ? value : undefined;
    } catch (error) {
      if (stage === 'AWSPREVIOUS' && isNotFound(error)) {
        previousMissingUntil = Date.now() + maxAgeSeconds * 1000;
        return undefined;
      }
      throw error;
    }
  };
}

export class SigningKeys {
  readonly #read: ReadSecretStage;
  readonly #now: () => number;
  #lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(read: ReadSecretStage, now: () => number = Date.now) {
    this.#read = read;
    this.#now = now;
  }

  /** The key new tokens are signed with. */
  async current(): Promise<Uint8Array> {
    const secret = await this.#read('AWSCURRENT', { forceFetch: false });
    if (!secret) throw new Error('the signing secret has no AWSCURRENT value');
    return keyFromSecret(secret);
  }

  /** Current first, then previous. */
  async all(forceFetch = false): Promise<Uint8Array[]> {
    const [current, previous] = await Promise.all([
      this.#read('AWSCURRENT', { forceFetch }),
      this.#read('AWSPREVIOUS', { forceFetch }),
    ]);
    return [current, previous].filter((s): s is string => !!s).map(keyFromSecret);
  }

  /**
   * Verifies a token against the cached keys, refreshing them once if none matches.
   * @throws InvalidTokenError
   */
  async verify(token: string, options: TokenOptions = {}): Promise<TokenClaims> {
    try {
      return await verifyToken(token, await this.all(), options);
    } catch (error) {
      const stale = error instanceof InvalidTokenError && error.reason === 'BAD_SIGNATURE';
      if (!stale || this.#now() - this.#lastRefresh < REFRESH_INTERVAL_MS) throw error;
      this.#lastRefresh = this.#now();
      return verifyToken(token, await this.all(true), options);
    }
  }
}

function isNotFound(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  return cause instanceof Error && cause.name === 'ResourceNotFoundException';
}
