/** ARNs and names of state machines and executions, as AWS builds and checks them. */
import { SfnApiError } from './errors';

export type StateMachineType = 'STANDARD' | 'EXPRESS';

export interface Partition {
  readonly region: string;
  readonly accountId: string;
}

export function stateMachineArn(at: Partition, name: string): string {
  return `arn:aws:states:${at.region}:${at.accountId}:stateMachine:${name}`;
}

export function executionArn(
  at: Partition,
  type: StateMachineType,
  machineName: string,
  name: string,
): string {
  const kind = type === 'EXPRESS' ? 'express' : 'execution';
  return `arn:aws:states:${at.region}:${at.accountId}:${kind}:${machineName}:${name}`;
}

const ARN_PATTERN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:([A-Za-z]+):(.+)$/;

/** Throws `InvalidArn` unless `arn` is a Step Functions ARN of one of `kinds`. */
export function requireArn(arn: unknown, field: string, kinds: readonly string[]): string {
  if (typeof arn !== 'string' || arn.length === 0) {
    throw new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  const match = ARN_PATTERN.exec(arn);
  if (!match) throw new SfnApiError('InvalidArn', `Invalid Arn: 'Invalid ARN prefix: ${arn}'`);
  if (!kinds.includes(match[1] ?? '')) {
    throw new SfnApiError(
      'InvalidArn',
      `Invalid Arn: 'Resource type not valid in this context: ${match[1]}'`,
    );
  }
  return arn;
}

/**
 * Names of state machines and executions: 1 to 80 characters, none of AWS's forbidden ones
 * (whitespace, brackets, wildcards, special characters and control characters).
 */
export function requireName(name: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: AWS forbids control characters in names.
  const forbidden = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;
  if (name.length < 1 || name.length > 80 || forbidden.test(name)) {
    throw new SfnApiError('InvalidName', `Invalid Name: '${name}' is not a valid ${what} name`);
  }
  return name;
}
