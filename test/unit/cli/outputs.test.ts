import { EXIT, TargetError } from '../../../cli/errors';
import { executionArnFor } from '../../../cli/executions';
import { awsHint, parseOutputs, regionOfArn } from '../../../cli/target';

const LOCAL = {
  MasterOrchestrator: {
    RestApiEndpoint6D1710F7: 'http://127.0.0.1:4566/_aws/execute-api/abc/v1/',
    RestApiUrl: 'http://127.0.0.1:4566/_aws/execute-api/abc/v1/',
    WebSocketUrl: 'ws://127.0.0.1:4566/_aws/execute-api/def/v1',
    RecoveryStateMachineArn: 'arn:aws:states:eu-west-1:000000000000:stateMachine:Recovery',
    JwtSecretArn: 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:Key',
  },
};

describe('parseOutputs', () => {
  it('reads the first stack that has a RestApiUrl, skipping others', () => {
    // Prepare
    const text = JSON.stringify({ Other: { BucketName: 'b' }, ...LOCAL });

    // Act
    const outputs = parseOutputs(text, 'out.json');

    // Assess
    expect(outputs).toEqual({
      stack: 'MasterOrchestrator',
      RestApiUrl: LOCAL.MasterOrchestrator.RestApiUrl,
      WebSocketUrl: LOCAL.MasterOrchestrator.WebSocketUrl,
      RecoveryStateMachineArn: LOCAL.MasterOrchestrator.RecoveryStateMachineArn,
      JwtSecretArn: LOCAL.MasterOrchestrator.JwtSecretArn,
    });
  });

  it('adds the trailing slash a RestApiUrl lacks and leaves a missing WebSocketUrl undefined', () => {
    const outputs = parseOutputs(JSON.stringify({ S: { RestApiUrl: 'https://x.example/v1' } }), 'out.json');

    expect(outputs.RestApiUrl).toBe('https://x.example/v1/');
    expect(outputs.WebSocketUrl).toBeUndefined();
  });

  it.each([
    ['not JSON', '{', /is not JSON/],
    ['an array', '[]', /is not an outputs file/],
    ['no RestApiUrl', '{"S":{"TableName":"t"}}', /names no stack with a RestApiUrl/],
  ])('rejects a file that is %s with a target error', (_what, text, message) => {
    const act = () => parseOutputs(text, 'out.json');

    expect(act).toThrow(TargetError);
    expect(act).toThrow(message);
    try {
      act();
    } catch (error) {
      expect((error as TargetError).exitCode).toBe(EXIT.TARGET);
    }
  });
});

describe('target helpers', () => {
  it('reads the region out of an ARN', () => {
    expect(regionOfArn(LOCAL.MasterOrchestrator.JwtSecretArn)).toBe('eu-west-1');
    expect(regionOfArn(undefined)).toBeUndefined();
    expect(regionOfArn('not-an-arn')).toBeUndefined();
  });

  it('hints at the offline endpoint and dummy credentials for a local target', () => {
    const outputs = parseOutputs(JSON.stringify(LOCAL), 'out.json');

    expect(awsHint(outputs, {})).toBe(
      'for the offline runtime: export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-west-1',
    );
    expect(awsHint(outputs, { endpoint: 'http://127.0.0.1:4566' })).toMatch(/is the offline runtime up/);
    expect(awsHint(parseOutputs('{"S":{"RestApiUrl":"https://x.example/v1/"}}', 'f'), {})).toMatch(
      /AWS_REGION/,
    );
  });

  it('names the execution after the workflow id, and keeps an ARN as given', () => {
    const machine = LOCAL.MasterOrchestrator.RecoveryStateMachineArn;

    expect(executionArnFor('wf-1', machine)).toBe(
      'arn:aws:states:eu-west-1:000000000000:execution:Recovery:wf-1',
    );
    expect(executionArnFor('arn:aws:states:x', machine)).toBe('arn:aws:states:x');
    expect(() => executionArnFor('wf-1', undefined)).toThrow(/RecoveryStateMachineArn/);
  });
});
