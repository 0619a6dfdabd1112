import { type AuthorizerEvent, authorizeRequest, stageWideResource } from '#shared/auth/authorize';
import { signToken, verifyToken } from '#shared/auth/jwt';

const KEY = new TextEncoder().encode('authorizer-test-key-0123456789abcdefghijklmnopqrstuvw');
const OTHER = new TextEncoder().encode('another-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEF');
const REST_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/api/orchestrator/issues';
const WS_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:ws456/prod/$connect';

const verifyWith = (keys: Uint8Array[]) => (token: string) => verifyToken(token, keys);
const tokenFor = (role: 'viewer' | 'operator' | 'agent' | 'admin', key = KEY) =>
  signToken({ sub: `${role}-1`, role, ttlSeconds: 300 }, key);

async function denial(event: AuthorizerEvent, keys = [KEY]): Promise<{ message: string; reasons: string[] }> {
  const reasons: string[] = [];
  try {
    await authorizeRequest(event, verifyWith(keys), (reason) => reasons.push(reason));
  } catch (error) {
    return { message: (error as Error).message, reasons };
  }
  throw new Error('expected the request to be denied');
}

describe('authorizeRequest', () => {
  it('allows a valid bearer token for the whole stage, with sub and role in the context', async () => {
    // Prepare
    const event = { methodArn: REST_ARN, headers: { Authorization: `Bearer ${await tokenFor('operator')}` } };

    // Act
    const result = await authorizeRequest(event, verifyWith([KEY]));

    // Assess
    expect(result).toEqual({
      principalId: 'operator-1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*',
          },
        ],
      },
      context: { sub: 'operator-1', role: 'operator' },
    });
  });

  it('reads a lower-case header and, for WebSockets, the token query parameter', async () => {
    // Prepare
    const token = await tokenFor('viewer');

    // Act
    const fromHeader = await authorizeRequest(
      { methodArn: REST_ARN, headers: { authorization: `bearer ${token}` } },
      verifyWith([KEY]),
    );
    const fromQuery = await authorizeRequest(
      { methodArn: WS_ARN, headers: {}, queryStringParameters: { token } },
      verifyWith([KEY]),
    );

    // Assess
    expect(fromHeader.context).toEqual({ sub: 'viewer-1', role: 'viewer' });
    expect(fromQuery.policyDocument.Statement[0]).toMatchObject({
      Resource: 'arn:aws:execute-api:eu-west-1:123456789012:ws456/prod/*',
    });
  });

  it('accepts a token of the previous key when both keys are given', async () => {
    const token = await tokenFor('agent', OTHER);
    const result = await authorizeRequest(
      { methodArn: REST_ARN, headers: { Authorization: `Bearer ${token}` } },
      verifyWith([KEY, OTHER]),
    );
    expect(result.principalId).toBe('agent-1');
  });

  it('rejects a missing token with Unauthorized', async () => {
    const { message, reasons } = await denial({ methodArn: REST_ARN, headers: {} });
    expect(message).toBe('Unauthorized');
    expect(reasons).toEqual(['no bearer token']);
  });

  it('rejects a non-bearer scheme, a bad signature and an expired token with Unauthorized', async () => {
    // Prepare
    const basic = { methodArn: REST_ARN, headers: { Authorization: 'Basic dXNlcjpwYXNz' } };
    const forged = {
      methodArn: REST_ARN,
      headers: { Authorization: `Bearer ${await tokenFor('admin', OTHER)}` },
    };
    const garbage = { methodArn: REST_ARN, headers: { Authorization: 'Bearer abc.def.ghi' } };

    // Act
    const results = [await denial(basic), await denial(forged), await denial(garbage)];

    // Assess
    expect(results.map((r) => r.message)).toEqual(['Unauthorized', 'Unauthorized', 'Unauthorized']);
    expect(results[1]?.reasons).toEqual(['token refused: BAD_SIGNATURE']);
    expect(results[2]?.reasons).toEqual(['token refused: MALFORMED']);
  });

  it('fails with the real error, not Unauthorized, when the keys cannot be loaded', async () => {
    // Prepare
    const event = { methodArn: REST_ARN, headers: { Authorization: `Bearer ${await tokenFor('viewer')}` } };
    const outage = new Error('Secrets Manager unavailable');

    // Act
    const act = authorizeRequest(event, async () => {
      throw outage;
    });

    // Assess
    await expect(act).rejects.toBe(outage);
  });
});

describe('stageWideResource', () => {
  it('widens REST and WebSocket method ARNs to their stage', () => {
    expect(stageWideResource(REST_ARN)).toBe('arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*');
    expect(stageWideResource(WS_ARN)).toBe('arn:aws:execute-api:eu-west-1:123456789012:ws456/prod/*');
  });

  it('rejects something that is not a method ARN', () => {
    expect(() => stageWideResource('not-an-arn')).toThrow(/methodArn/);
  });
});
