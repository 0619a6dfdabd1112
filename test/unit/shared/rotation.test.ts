import { rotateSigningKey } from '#shared/auth/rotation';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf';

/** Secrets Manager's version bookkeeping, enough for the rotation protocol. */
function fakeSecretsManager(rotationEnabled = true) {
  const values = new Map<string, string>([['v1', 'old-key-0123456789abcdefghijklmnopqrstuvwxyz']]);
  const stages = new Map<string, string[]>([['v1', ['AWSCURRENT']]]);
  const calls: string[] = [];
  const notFound = () => Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const { input } = command;
    calls.push(command.constructor.name);
    switch (command.constructor.name) {
      case 'DescribeSecretCommand':
        return { RotationEnabled: rotationEnabled, VersionIdsToStages: Object.fromEntries(stages) };
      case 'GetSecretValueCommand': {
        const id =
          (input.VersionId as string | undefined) ??
          [...stages].find(([, s]) => s.includes(String(input.VersionStage)))?.[0];
        if (!id || !values.has(id) || !stages.get(id)?.includes(String(input.VersionStage))) throw notFound();
        return { SecretString: values.get(id) };
      }
      case 'GetRandomPasswordCommand':
        expect(input).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
        return { RandomPassword: 'N'.repeat(64) };
      case 'PutSecretValueCommand':
        values.set(String(input.ClientRequestToken), String(input.SecretString));
        stages.set(String(input.ClientRequestToken), input.VersionStages as string[]);
        return {};
      case 'UpdateSecretVersionStageCommand': {
        const stage = String(input.VersionStage);
        const from = input.RemoveFromVersionId as string | undefined;
        const to = input.MoveToVersionId as string | undefined;
        if (from)
          stages.set(
            from,
            (stages.get(from) ?? []).filter((s) => s !== stage),
          );
        if (to) stages.set(to, [...(stages.get(to) ?? []), stage]);
        if (stage === 'AWSCURRENT' && from) stages.set(from, [...(stages.get(from) ?? []), 'AWSPREVIOUS']);
        return {};
      }
      default:
        throw new Error(`unexpected ${command.constructor.name}`);
    }
  };
  return { values, stages, calls, client: { send } as never };
}

const step = (Step: string) => ({ Step, SecretId: ARN, ClientRequestToken: 'v2' });

describe('rotateSigningKey', () => {
  it('runs the four steps: new AWSCURRENT, old one AWSPREVIOUS, no AWSPENDING left', async () => {
    // Prepare: Secrets Manager stages the new version as AWSPENDING before calling the function.
    const sm = fakeSecretsManager();
    sm.stages.set('v2', ['AWSPENDING']);

    // Act
    for (const name of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'])
      await rotateSigningKey(step(name), sm.client);

    // Assess
    expect(sm.values.get('v2')).toBe('N'.repeat(64));
    expect(sm.stages.get('v2')).toEqual(['AWSCURRENT']);
    expect(sm.stages.get('v1')).toEqual(['AWSPREVIOUS']);
  });

  it('repeats each step safely: no second key, no second move', async () => {
    // Prepare
    const sm = fakeSecretsManager();
    sm.stages.set('v2', ['AWSPENDING']);

    // Act
    await rotateSigningKey(step('createSecret'), sm.client);
    await rotateSigningKey(step('createSecret'), sm.client);
    await rotateSigningKey(step('finishSecret'), sm.client);
    const again = await rotateSigningKey(step('finishSecret'), sm.client);

    // Assess
    expect(sm.calls.filter((c) => c === 'PutSecretValueCommand')).toHaveLength(1);
    expect(again).toMatch(/already AWSCURRENT/);
    expect(sm.calls.filter((c) => c === 'UpdateSecretVersionStageCommand')).toHaveLength(2);
  });

  it('accepts the user guide spelling of the steps', async () => {
    const sm = fakeSecretsManager();
    sm.stages.set('v2', ['AWSPENDING']);
    await rotateSigningKey(step('create_secret'), sm.client);
    expect(sm.values.has('v2')).toBe(true);
  });

  it('fails a test step whose pending key is too short', async () => {
    const sm = fakeSecretsManager();
    sm.stages.set('v2', ['AWSPENDING']);
    sm.values.set('v2', 'short');
    await expect(rotateSigningKey(step('testSecret'), sm.client)).rejects.toThrow(/shorter/);
  });

  it('refuses a secret without rotation, a version that is not pending, and an unknown step', async () => {
    const disabled = fakeSecretsManager(false);
    disabled.stages.set('v2', ['AWSPENDING']);
    await expect(rotateSigningKey(step('createSecret'), disabled.client)).rejects.toThrow(/not enabled/);

    const unstaged = fakeSecretsManager();
    await expect(rotateSigningKey(step('createSecret'), unstaged.client)).rejects.toThrow(/no stage/);

    const sm = fakeSecretsManager();
    sm.stages.set('v2', ['AWSPENDING']);
    await expect(rotateSigningKey(step('dance'), sm.client)).rejects.toThrow(/unknown rotation step/);
  });
});
