import { SignJWT } from 'jose';
import { CLOCK_TOLERANCE_SECONDS, InvalidTokenError, signToken, verifyToken } from '#shared/auth/jwt';
import { REFRESH_INTERVAL_MS, type ReadSecretStage, SigningKeys } from '#shared/auth/signing-keys';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from '#shared/config';

const key = (secret: string) => new TextEncoder().encode(secret);
const CURRENT = key('current-signing-key-0123456789abcdefghijklmnopqrstuvwxyz');
const PREVIOUS = key('previous-signing-key-0123456789abcdefghijklmnopqrstuvwxy');
const OTHER = key('some-other-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEF');
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function refusal(promise: Promise<unknown>): Promise<InvalidTokenError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InvalidTokenError) return error;
    throw error;
  }
  throw new Error('expected the token to be refused');
}

/** A token built by hand, to reach claims signToken would never produce. */
function craft(
  claims: Record<string, unknown>,
  options: { exp?: number; iss?: string; aud?: string; alg?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject('ops-1')
    .setIssuer(options.iss ?? DEFAULT_JWT_ISSUER)
    .setAudience(options.aud ?? DEFAULT_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? nowSeconds() + 600);
}

describe('signToken / verifyToken', () => {
  it('round-trips sub and role', async () => {
    // Act
    const token = await signToken({ sub: 'ops-1', role: 'operator', ttlSeconds: 600 }, CURRENT);
    const claims = await verifyToken(token, [CURRENT]);

    // Assess
    expect(claims).toEqual({ sub: 'ops-1', role: 'operator' });
  });

  it('accepts a token signed with the previous key after a rotation', async () => {
    // Prepare
    const token = await signToken({ sub: 'agent-7', role: 'agent', ttlSeconds: 600 }, PREVIOUS);

    // Act
    const claims = await verifyToken(token, [CURRENT, PREVIOUS]);

    // Assess
    expect(claims).toEqual({ sub: 'agent-7', role: 'agent' });
  });

  it('rejects a token signed with another key', async () => {
    // Prepare
    const token = await signToken({ sub: 'ops-1', role: 'admin', ttlSeconds: 600 }, OTHER);

    // Act
    const error = await refusal(verifyToken(token, [CURRENT, PREVIOUS]));

    // Assess
    expect(error.reason).toBe('BAD_SIGNATURE');
  });

  it('rejects an expired token, with the clock tolerance', async () => {
    // Prepare
    const expired = await craft({ role: 'viewer' }, { exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS - 5 }).sign(
      CURRENT,
    );
    const justExpired = await craft({ role: 'viewer' }, { exp: nowSeconds() - 5 }).sign(CURRENT);

    // Act
    const error = await refusal(verifyToken(expired, [CURRENT]));
    const tolerated = await verifyToken(justExpired, [CURRENT]);

    // Assess
    expect(error.reason).toBe('EXPIRED');
    expect(tolerated.role).toBe('viewer');
  });

  it('rejects the wrong audience or issuer', async () => {
    // Prepare
    const wrongAudience = await craft({ role: 'viewer' }, { aud: 'someone-else' }).sign(CURRENT);
    const wrongIssuer = await craft({ role: 'viewer' }, { iss: 'someone-else' }).sign(CURRENT);

    // Act
    const audience = await refusal(verifyToken(wrongAudience, [CURRENT]));
    const issuer = await refusal(verifyToken(wrongIssuer, [CURRENT]));

    // Assess
    expect(audience.reason).toBe('WRONG_CLAIMS');
    expect(issuer.reason).toBe('WRONG_CLAIMS');
  });

  it('honours a custom issuer and audience on both sides', async () => {
    // Prepare
    const options = { issuer: 'me', audience: 'my-api' };
    const token = await signToken({ sub: 'ops-1', role: 'operator', ttlSeconds: 60 }, CURRENT, options);

    // Act
    const claims = await verifyToken(token, [CURRENT], options);
    const refused = await refusal(verifyToken(token, [CURRENT]));

    // Assess
    expect(claims.sub).toBe('ops-1');
    expect(refused.reason).toBe('WRONG_CLAIMS');
  });

  it('rejects a role outside ROLES, and a missing role', async () => {
    // Prepare
    const root = await craft({ role: 'root' }).sign(CURRENT);
    const none = await craft({}).sign(CURRENT);

    // Act
    const rootError = await refusal(verifyToken(root, [CURRENT]));
    const noneError = await refusal(verifyToken(none, [CURRENT]));

    // Assess
    expect(rootError.reason).toBe('WRONG_CLAIMS');
    expect(noneError.reason).toBe('WRONG_CLAIMS');
  });

  it('rejects another algorithm, garbage, and an empty key list', async () => {
    // Prepare
    const hs512 = await craft({ role: 'viewer' }, { alg: 'HS512' }).sign(CURRENT);
    const valid = await signToken({ sub: 'ops-1', role: 'viewer', ttlSeconds: 60 }, CURRENT);

    // Act
    const algorithm = await refusal(verifyToken(hs512, [CURRENT]));
    const garbage = await refusal(verifyToken('not.a.jwt', [CURRENT]));
    const noKey = await refusal(verifyToken(valid, []));

    // Assess
    expect(algorithm.reason).toBe('MALFORMED');
    expect(garbage.reason).toBe('MALFORMED');
    expect(noKey.reason).toBe('NO_KEY');
  });

  it('refuses to sign a role outside ROLES or a lifetime out of range', async () => {
    await expect(signToken({ sub: 'x', role: 'root' as 'admin', ttlSeconds: 60 }, CURRENT)).rejects.toThrow();
    await expect(signToken({ sub: 'x', role: 'admin', ttlSeconds: 0 }, CURRENT)).rejects.toThrow(RangeError);
    await expect(signToken({ sub: 'x', role: 'admin', ttlSeconds: 1.5 }, CURRENT)).rejects.toThrow(
      RangeError,
    );
  });
});

describe('SigningKeys', () => {
  function fakeSecret(initial: { AWSCURRENT?: string; AWSPREVIOUS?: string }) {
    const state = { ...initial };
    const reads: { stage: string; forceFetch: boolean }[] = [];
    const read: ReadSecretStage = async (stage, { forceFetch }) => {
      reads.push({ stage, forceFetch });
      return state[stage];
    };
    return { state, reads, read };
  }

  it('verifies tokens of the current and the previous key', async () => {
    // Prepare
    const secret = fakeSecret({
      AWSCURRENT: 'current-secret-value-0123456789',
      AWSPREVIOUS: 'previous-secret-0123456789',
    });
    const keys = new SigningKeys(secret.read);
    const fromPrevious = await signToken(
      { sub: 'a', role: 'agent', ttlSeconds: 60 },
      key('previous-secret-0123456789'),
    );

    // Act
    const claims = await keys.verify(fromPrevious);

    // Assess
    expect(claims).toEqual({ sub: 'a', role: 'agent' });
    expect(await keys.current()).toEqual(key('current-secret-value-0123456789'));
  });

  it('works before the first rotation, when there is no previous key', async () => {
    // Prepare
    const secret = fakeSecret({ AWSCURRENT: 'only-key-0123456789' });
    const keys = new SigningKeys(secret.read);

    // Act
    const token = await signToken({ sub: 'a', role: 'viewer', ttlSeconds: 60 }, await keys.current());

    // Assess
    expect((await keys.verify(token)).sub).toBe('a');
  });

  it('refreshes once when a token matches no cached key (a rotation happened), then rate-limits', async () => {
    // Prepare
    let clock = 1_000_000;
    const secret = fakeSecret({ AWSCURRENT: 'old-key-0123456789' });
    const keys = new SigningKeys(
      async (stage, options) => {
        const value = await secret.read(stage, options);
        // The cache serves the old pair until a forced fetch.
        return options.forceFetch ? value : stage === 'AWSCURRENT' ? 'old-key-0123456789' : undefined;
      },
      () => clock,
    );
    secret.state.AWSCURRENT = 'new-key-0123456789';
    secret.state.AWSPREVIOUS = 'old-key-0123456789';
    const fresh = await signToken({ sub: 'a', role: 'viewer', ttlSeconds: 60 }, key('new-key-0123456789'));
    const forged = await signToken({ sub: 'a', role: 'admin', ttlSeconds: 60 }, OTHER);

    // Act
    const claims = await keys.verify(fresh);
    clock += 1_000;
    const forgedSoonAfter = await refusal(keys.verify(forged));
    const forcedBefore = secret.reads.filter((r) => r.forceFetch).length;
    clock += REFRESH_INTERVAL_MS;
    const forgedLater = await refusal(keys.verify(forged));
    const forcedAfter = secret.reads.filter((r) => r.forceFetch).length;

    // Assess
    expect(claims.sub).toBe('a');
    expect(forgedSoonAfter.reason).toBe('BAD_SIGNATURE');
    expect(forcedBefore).toBe(2); // one forced read per stage, once
    expect(forgedLater.reason).toBe('BAD_SIGNATURE');
    expect(forcedAfter).toBe(4);
  });

  it('does not refresh for an expired token', async () => {
    // Prepare
    const secret = fakeSecret({ AWSCURRENT: 'key-0123456789abcdef' });
    const keys = new SigningKeys(secret.read);
    const expired = await craft({ role: 'viewer' }, { exp: nowSeconds() - 3600 }).sign(
      key('key-0123456789abcdef'),
    );

    // Act
    const error = await refusal(keys.verify(expired));

    // Assess
    expect(error.reason).toBe('EXPIRED');
    expect(secret.reads.some((r) => r.forceFetch)).toBe(false);
  });

  it('fails when the secret has no current value', async () => {
    const keys = new SigningKeys(fakeSecret({}).read);
    await expect(keys.current()).rejects.toThrow(/AWSCURRENT/);
  });
});
