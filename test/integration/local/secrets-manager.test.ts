/**
 * Conformance of the local Secrets Manager over the real SDK v3 (endpoint from
 * AWS_ENDPOINT_URL_SECRETS_MANAGER), raw HTTP for the wire shapes, and the AWS CLI.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  type GetRandomPasswordCommandInput,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { SecretsManagerEmulator } from '#local/secrets-manager';
import { requireEnv, runAwsCli } from './aws-cli';

const endpoint = requireEnv('AWS_ENDPOINT_URL_SECRETS_MANAGER');
const jwtSecretArn = requireEnv('JWT_SECRET_ARN');
// No endpoint or region here: both come from the environment, as in a deployed handler.
const client = new SecretsManagerClient({});

afterAll(() => {
  client.destroy();
});

/** A secret name no other test uses. */
const uniqueName = (label: string): string => `it/${label}/${randomUUID()}`;
const token = (): string => randomUUID();

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

async function rawCall(
  target: string,
  body: unknown,
): Promise<{ status: number; type: string | null; json: unknown }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target },
    body: JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type'), json: await response.json() };
}

describe('the JWT signing secret from global setup', () => {
  it('holds a 64-character random value, readable by ARN and by name', async () => {
    // Act
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: jwtSecretArn }));
    const byName = await client.send(new GetSecretValueCommand({ SecretId: 'master-orchestrator-jwt' }));

    // Assess
    expect(byArn.SecretString).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(byName.SecretString).toBe(byArn.SecretString);
    expect(byArn).toMatchObject({
      ARN: jwtSecretArn,
      Name: 'master-orchestrator-jwt',
      VersionStages: ['AWSCURRENT'],
    });
    expect(byArn.CreatedDate).toBeInstanceOf(Date);
  });
});

describe('Secrets Manager over the SDK', () => {
  it('creates a secret and reads it back by name, full ARN and partial ARN', async () => {
    // Prepare
    const name = uniqueName('create');

    // Act
    const created = await client.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: '{"k":"v"}',
        Description: 'a test secret',
        Tags: [{ Key: 'team', Value: 'sre' }],
      }),
    );
    const partialArn = created.ARN?.slice(0, -7);
    const reads = await Promise.all(
      [name, created.ARN, partialArn].map((SecretId) => client.send(new GetSecretValueCommand({ SecretId }))),
    );

    // Assess
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    expect(created.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    for (const read of reads) {
      expect(read).toMatchObject({
        Name: name,
        ARN: created.ARN,
        VersionId: created.VersionId,
        SecretString: '{"k":"v"}',
      });
    }
  });

  it('moves AWSCURRENT to a new PutSecretValue version and AWSPREVIOUS to the old one', async () => {
    // Prepare
    const name = uniqueName('put');
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'one' }));

    // Act
    const second = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'two' }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(second.VersionStages).toEqual(['AWSCURRENT']);
    expect(current).toMatchObject({ SecretString: 'two', VersionId: second.VersionId });
    expect(previous).toMatchObject({
      SecretString: 'one',
      VersionId: first.VersionId,
      VersionStages: ['AWSPREVIOUS'],
    });
    expect(described.VersionIdsToStages).toEqual({
      [first.VersionId ?? '']: ['AWSPREVIOUS'],
      [second.VersionId ?? '']: ['AWSCURRENT'],
    });
  });

  it('runs a rotation: AWSPENDING version, stage move, then AWSPREVIOUS holds the old key', async () => {
    // Prepare
    const name = uniqueName('rotation');
    const original = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'old-key' }));
    const pendingId = token();

    // Act: createSecret step
    const pending = await client.send(
      new PutSecretValueCommand({
        SecretId: name,
        ClientRequestToken: pendingId,
        SecretString: 'new-key',
        VersionStages: ['AWSPENDING'],
      }),
    );
    const duringRotation = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const pendingValue = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionId: pendingId, VersionStage: 'AWSPENDING' }),
    );
    // Act: finishSecret step
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: pendingId,
        RemoveFromVersionId: original.VersionId,
      }),
    );
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }),
    );
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: pendingId,
      }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(pending).toMatchObject({ VersionId: pendingId, VersionStages: ['AWSPENDING'] });
    expect(duringRotation.SecretString).toBe('old-key');
    expect(pendingValue.SecretString).toBe('new-key');
    expect(current).toMatchObject({ SecretString: 'new-key', VersionId: pendingId });
    expect(current.VersionStages?.sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(previous).toMatchObject({ SecretString: 'old-key', VersionId: original.VersionId });
    expect(described.VersionIdsToStages).toEqual({
      [original.VersionId ?? '']: ['AWSPREVIOUS'],
      [pendingId]: ['AWSCURRENT'],
    });
  });

  it('rejects moving a label held by another version without RemoveFromVersionId, and removing AWSCURRENT', async () => {
    // Prepare
    const name = uniqueName('stage-rules');
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));
    const second = await client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'b', VersionStages: ['AWSPENDING'] }),
    );

    // Act
    const moveWithoutRemove = await rejection(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: second.VersionId,
        }),
      ),
    );
    const removeCurrent = await rejection(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: first.VersionId,
        }),
      ),
    );

    // Assess
    expect(moveWithoutRemove).toBeInstanceOf(InvalidParameterException);
    expect(removeCurrent).toBeInstanceOf(InvalidParameterException);
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    expect(current.VersionId).toBe(first.VersionId);
  });

  it('treats a repeated ClientRequestToken as a retry, and rejects it with a different value', async () => {
    // Prepare
    const name = uniqueName('idempotent');
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));
    const versionId = token();
    const first = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: versionId, SecretString: 'b' }),
    );

    // Act
    const retry = await client.send(
      new PutSecretValueCommand({ SecretId: name, ClientRequestToken: versionId, SecretString: 'b' }),
    );
    const conflict = await rejection(
      client.send(
        new PutSecretValueCommand({ SecretId: name, ClientRequestToken: versionId, SecretString: 'c' }),
      ),
    );

    // Assess
    expect(retry).toMatchObject({ VersionId: first.VersionId, VersionStages: ['AWSCURRENT'] });
    expect(conflict).toBeInstanceOf(ResourceExistsException);
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(Object.keys(described.VersionIdsToStages ?? {})).toHaveLength(2);
  });

  it('rejects a second CreateSecret with the same name', async () => {
    // Prepare
    const name = uniqueName('duplicate');
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));

    // Act
    const failure = await rejection(client.send(new CreateSecretCommand({ Name: name, SecretString: 'b' })));

    // Assess
    expect(failure).toBeInstanceOf(ResourceExistsException);
  });

  it('stores and returns a binary secret', async () => {
    // Prepare
    const name = uniqueName('binary');
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);

    // Act
    await client.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const read = await client.send(new GetSecretValueCommand({ SecretId: name }));

    // Assess
    expect(read.SecretString).toBeUndefined();
    expect(Array.from(read.SecretBinary ?? [])).toEqual(Array.from(bytes));
  });

  it('fails with ResourceNotFoundException for an unknown secret, version or stage', async () => {
    // Prepare
    const name = uniqueName('missing');
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'a' }));

    // Act
    const failures = await Promise.all([
      rejection(client.send(new GetSecretValueCommand({ SecretId: uniqueName('never-created') }))),
      rejection(client.send(new GetSecretValueCommand({ SecretId: name, VersionId: token() }))),
      rejection(client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }))),
      rejection(
        client.send(
          new DescribeSecretCommand({
            SecretId: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:x-abcdef',
          }),
        ),
      ),
      rejection(
        client.send(new PutSecretValueCommand({ SecretId: uniqueName('never-created'), SecretString: 'x' })),
      ),
    ]);

    // Assess
    for (const failure of failures) expect(failure).toBeInstanceOf(ResourceNotFoundException);
    expect((failures[0] as Error).message).toBe("Secrets Manager can't find the specified secret.");
    expect((failures[2] as Error).message).toMatch(/staging label: AWSPENDING/);
  });

  it('lists secrets with a name filter, one page at a time', async () => {
    // Prepare
    const prefix = uniqueName('list');
    for (const suffix of ['a', 'b', 'c']) {
      await client.send(new CreateSecretCommand({ Name: `${prefix}/${suffix}`, SecretString: suffix }));
    }
    const names: string[] = [];
    let nextToken: string | undefined;

    // Act
    for (let page = 0; page < 10; page++) {
      const listed = await client.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'name', Values: [prefix] }],
          MaxResults: 2,
          NextToken: nextToken,
        }),
      );
      names.push(...(listed.SecretList ?? []).map((entry) => entry.Name ?? ''));
      nextToken = listed.NextToken;
      if (!nextToken) break;
    }

    // Assess
    expect(names).toEqual([`${prefix}/a`, `${prefix}/b`, `${prefix}/c`]);
  });

  it('records a rotation schedule with RotateImmediately=false and refuses an immediate rotation', async () => {
    // Prepare
    const name = uniqueName('rotate-config');
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'k' }));
    const lambdaArn = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-signing-key';

    // Act
    const immediate = await rejection(
      client.send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: lambdaArn })),
    );
    const before = await client.send(new DescribeSecretCommand({ SecretId: name }));
    await client.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: lambdaArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    const after = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(immediate).toBeInstanceOf(InvalidRequestException);
    // AWS answers null for a secret never configured for rotation.
    expect(before.RotationEnabled).toBeUndefined();
    expect(after).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
  });
});

describe('GetRandomPassword', () => {
  const password = async (input: GetRandomPasswordCommandInput): Promise<string> =>
    (await client.send(new GetRandomPasswordCommand(input))).RandomPassword ?? '';

  it('defaults to 32 characters with every type present', async () => {
    // Act
    const samples = await Promise.all(Array.from({ length: 20 }, () => password({})));

    // Assess
    for (const sample of samples) {
      expect(sample).toHaveLength(32);
      expect(sample).toMatch(/[a-z]/);
      expect(sample).toMatch(/[A-Z]/);
      expect(sample).toMatch(/[0-9]/);
      expect(sample).toMatch(/[^A-Za-z0-9]/);
    }
    expect(new Set(samples).size).toBe(samples.length);
  });

  it('honours the length and the exclusions', async () => {
    // Act
    const alphanumeric = await password({ PasswordLength: 64, ExcludePunctuation: true });
    const digits = await password({
      PasswordLength: 20,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludePunctuation: true,
    });
    const noAmbiguous = await password({
      PasswordLength: 200,
      ExcludeCharacters: 'O0Il1',
      ExcludePunctuation: true,
    });
    const withSpace = await password({
      PasswordLength: 40,
      IncludeSpace: true,
      ExcludeLowercase: true,
      ExcludeUppercase: true,
      ExcludeNumbers: true,
      ExcludePunctuation: true,
    });

    // Assess
    expect(alphanumeric).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(digits).toMatch(/^[0-9]{20}$/);
    expect(noAmbiguous).toMatch(/^[A-HJ-NP-Za-km-z2-9]{200}$/);
    expect(withSpace).toBe(' '.repeat(40));
  });

  it('rejects exclusions that leave nothing, and lengths too short for the required types', async () => {
    // Act
    const nothingLeft = await rejection(
      client.send(
        new GetRandomPasswordCommand({
          ExcludeLowercase: true,
          ExcludeUppercase: true,
          ExcludeNumbers: true,
          ExcludePunctuation: true,
        }),
      ),
    );
    const tooShort = await rejection(client.send(new GetRandomPasswordCommand({ PasswordLength: 3 })));

    // Assess
    expect(nothingLeft).toBeInstanceOf(InvalidParameterException);
    expect(tooShort).toBeInstanceOf(InvalidParameterException);
  });
});

describe('the wire protocol', () => {
  it('answers errors with AWS JSON 1.1 shape: 400, __type and message', async () => {
    // Act
    const response = await rawCall('secretsmanager.GetSecretValue', { SecretId: uniqueName('nope') });

    // Assess
    expect(response.status).toBe(400);
    expect(response.type).toBe('application/x-amz-json-1.1');
    expect(response.json).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('names an operation it does not serve in an UnknownOperationException', async () => {
    // Act
    const response = await rawCall('secretsmanager.DeleteSecret', { SecretId: 'x' });

    // Assess
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      __type: 'UnknownOperationException',
      message: 'DeleteSecret is not supported by the local Secrets Manager',
    });
  });

  it('rejects a body that is not JSON with a SerializationException', async () => {
    // Act
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'secretsmanager.ListSecrets' },
      body: '{not json',
    });

    // Assess
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'SerializationException' });
  });
});

describe('SecretsManagerEmulator.handle, without a transport', () => {
  it('does not treat inherited object keys as operations', () => {
    // Prepare
    const emulator = new SecretsManagerEmulator();

    // Act
    const response = emulator.handle('secretsmanager.constructor', {});

    // Assess
    expect(response).toEqual({
      status: 400,
      body: {
        __type: 'UnknownOperationException',
        message: 'constructor is not supported by the local Secrets Manager',
      },
    });
  });

  it('rejects a non-object input and a wrongly typed member', () => {
    // Prepare
    const emulator = new SecretsManagerEmulator();

    // Act
    const notObject = emulator.handle('secretsmanager.ListSecrets', [1, 2]);
    const wrongType = emulator.handle('secretsmanager.CreateSecret', { Name: 42 });

    // Assess
    expect(notObject).toMatchObject({ status: 400, body: { __type: 'SerializationException' } });
    expect(wrongType).toMatchObject({ status: 400, body: { __type: 'ValidationException' } });
  });

  it('writes its region into ARNs and dates as epoch seconds', () => {
    // Prepare
    const emulator = new SecretsManagerEmulator({ region: 'eu-west-1', clock: () => 1_700_000_000_123 });

    // Act
    const created = emulator.handle('secretsmanager.CreateSecret', { Name: 'n', SecretString: 'v' });
    const described = emulator.handle('secretsmanager.DescribeSecret', { SecretId: 'n' });

    // Assess
    expect(created.body).toMatchObject({
      ARN: expect.stringMatching(/^arn:aws:secretsmanager:eu-west-1:000000000000:secret:n-/),
    });
    expect(described.body).toMatchObject({
      CreatedDate: 1_700_000_000.123,
      LastChangedDate: 1_700_000_000.123,
    });
  });
});

describe('Secrets Manager over the AWS CLI', () => {
  it('answers `aws secretsmanager get-secret-value` for the JWT secret', async () => {
    // Prepare
    const expected = await client.send(new GetSecretValueCommand({ SecretId: jwtSecretArn }));

    // Act
    const result = await runAwsCli(endpoint, [
      'secretsmanager',
      'get-secret-value',
      '--secret-id',
      jwtSecretArn,
    ]);

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ARN: jwtSecretArn,
      Name: 'master-orchestrator-jwt',
      SecretString: expected.SecretString,
      VersionStages: ['AWSCURRENT'],
    });
  }, 20_000);

  it('reports ResourceNotFoundException through the CLI for an unknown secret', async () => {
    // Act
    const result = await runAwsCli(endpoint, [
      'secretsmanager',
      'get-secret-value',
      '--secret-id',
      'no-such-secret',
    ]);

    // Assess
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /ResourceNotFoundException.*Secrets Manager can't find the specified secret/,
    );
  }, 20_000);
});
