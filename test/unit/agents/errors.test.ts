import {
  AgentPermanentError,
  AgentTransientError,
  isCallbackGone,
  MAX_CAUSE_LENGTH,
  toTaskFailure,
  truncate,
} from '#agents/sdk/index';

describe('toTaskFailure', () => {
  it('maps AgentTransientError to Agent.Transient with its message as the cause', () => {
    expect(toTaskFailure(new AgentTransientError('throttled'))).toEqual({
      error: 'Agent.Transient',
      cause: 'throttled',
    });
  });

  it('maps AgentPermanentError to Agent.Permanent', () => {
    expect(toTaskFailure(new AgentPermanentError('zone locked'))).toEqual({
      error: 'Agent.Permanent',
      cause: 'zone locked',
    });
  });

  it.each([
    [new TypeError('x is undefined'), 'x is undefined'],
    ['a thrown string', 'a thrown string'],
    [new RangeError(''), 'RangeError'],
  ])('maps any other thrown value (%p) to Agent.Permanent', (thrown, cause) => {
    expect(toTaskFailure(thrown)).toEqual({ error: 'Agent.Permanent', cause });
  });

  it('truncates the cause to Step Functions 32,768 characters', () => {
    // Act
    const { cause } = toTaskFailure(new AgentTransientError('x'.repeat(MAX_CAUSE_LENGTH + 10)));
    // Assess
    expect(cause).toHaveLength(MAX_CAUSE_LENGTH);
    expect(cause.endsWith('…')).toBe(true);
  });
});

describe('truncate', () => {
  it('leaves text within the limit alone and cuts longer text to exactly the limit', () => {
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abcd', 3)).toBe('ab…');
  });
});

describe('isCallbackGone', () => {
  const named = (name: string) => Object.assign(new Error(name), { name });

  it.each(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'])(
    'treats %s as a late or duplicate callback',
    (name) => {
      expect(isCallbackGone(named(name))).toBe(true);
    },
  );

  it.each(['ThrottlingException', 'TimeoutError'])('rejects %s, which is worth retrying', (name) => {
    expect(isCallbackGone(named(name))).toBe(false);
  });
});
