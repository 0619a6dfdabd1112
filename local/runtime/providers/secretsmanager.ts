/**
 * Secrets Manager: the in-memory {@link SecretsManagerEmulator} behind the edge.
 *
 * Deploys:
 * - AWS::SecretsManager::Secret: CreateSecret with `SecretString`, or a value made by
 *   `GenerateSecretString` (PasswordLength, Exclude*, IncludeSpace,
 *   RequireEachIncludedType, and SecretStringTemplate + GenerateStringKey). `Ref` and
 *   `Id` give the ARN.
 * - AWS::SecretsManager::RotationSchedule: recorded with RotateSecret
 *   (RotateImmediately false), so DescribeSecret shows the Lambda and the rules. Nothing
 *   is scheduled or invoked.
 */

import { type EmulatorResponse, SecretsManagerEmulator } from '#local/secrets-manager';
import { generatedName } from '../template';
import {
  type AwsRequest,
  type AwsResponse,
  awsJsonError,
  type DeployContext,
  type DeployedResource,
  type Provider,
  type ResolvedResource,
} from '../types';

const TARGET_PREFIX = 'secretsmanager.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

export type SecretsManagerProvider = Provider & { readonly emulator: SecretsManagerEmulator };

/** A deploy-time call the emulator refused. */
export class SecretDeployError extends Error {
  override readonly name = 'SecretDeployError';
}

/**
 * @param emulator pass one to share state with the caller
 * @example
 * const secrets = createSecretsManagerProvider();
 * await secrets.deploy?.({ logicalId: 'Jwt', type: 'AWS::SecretsManager::Secret', properties: { GenerateSecretString: { PasswordLength: 64 } }, metadata: {} }, context);
 */
export function createSecretsManagerProvider(emulator?: SecretsManagerEmulator): SecretsManagerProvider {
  let current = emulator;
  const emulatorFor = (region: string): SecretsManagerEmulator => {
    current ??= new SecretsManagerEmulator({ region });
    return current;
  };

  return {
    service: 'secretsmanager',
    resourceTypes: ['AWS::SecretsManager::Secret', 'AWS::SecretsManager::RotationSchedule'],
    get emulator() {
      return emulatorFor('us-east-1');
    },

    matches(request: AwsRequest): boolean {
      if (request.path.startsWith('/_aws/')) return false;
      return (
        request.signingService === 'secretsmanager' || request.target?.startsWith(TARGET_PREFIX) === true
      );
    },

    async handle(request: AwsRequest): Promise<AwsResponse> {
      const text = request.body.toString('utf8');
      let input: unknown;
      try {
        input = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        return awsJsonError(400, 'SerializationException', 'The request body is not valid JSON');
      }
      const result = emulatorFor(request.region).handle(request.target ?? '', input);
      return {
        status: result.status,
        headers: { 'content-type': CONTENT_TYPE },
        body: JSON.stringify(result.body),
      };
    },

    async start(context): Promise<void> {
      emulatorFor(context.region);
    },

    async deploy(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource> {
      const sm = emulatorFor(context.region);
      if (resource.type === 'AWS::SecretsManager::RotationSchedule') return recordRotation(sm, resource);
      return createSecret(sm, resource, context);
    },
  };
}

function createSecret(
  sm: SecretsManagerEmulator,
  resource: ResolvedResource,
  context: DeployContext,
): DeployedResource {
  const { properties, logicalId } = resource;
  const name =
    typeof properties.Name === 'string' && properties.Name !== ''
      ? properties.Name
      : generatedName(context.stackName, logicalId, { maxLength: 256 }).replace(/[^A-Za-z0-9/_+=.@-]/g, '-');
  const secretString =
    typeof properties.SecretString === 'string'
      ? properties.SecretString
      : properties.GenerateSecretString !== undefined
        ? generateSecretString(sm, properties.GenerateSecretString as Record<string, unknown>)
        : undefined;
  const tags = Array.isArray(properties.Tags) ? properties.Tags : undefined;
  const created = call(sm, 'CreateSecret', {
    Name: name,
    ...(typeof properties.Description === 'string' ? { Description: properties.Description } : {}),
    ...(typeof properties.KmsKeyId === 'string' ? { KmsKeyId: properties.KmsKeyId } : {}),
    ...(tags ? { Tags: tags } : {}),
    ...(secretString !== undefined ? { SecretString: secretString } : {}),
  }) as { ARN: string };
  return { ref: created.ARN, attributes: { Id: created.ARN } };
}

/**
 * CloudFormation's GenerateSecretString: a random password from GetRandomPassword's
 * options, alone or placed under `GenerateStringKey` in the `SecretStringTemplate` JSON.
 */
export function generateSecretString(
  sm: SecretsManagerEmulator,
  options: Readonly<Record<string, unknown>>,
): string {
  const passwordOptions: Record<string, unknown> = {};
  for (const key of [
    'PasswordLength',
    'ExcludeCharacters',
    'ExcludeNumbers',
    'ExcludePunctuation',
    'ExcludeUppercase',
    'ExcludeLowercase',
    'IncludeSpace',
    'RequireEachIncludedType',
  ]) {
    const value = options[key];
    if (value === undefined) continue;
    // The template may carry numbers and booleans as strings.
    passwordOptions[key] =
      key === 'PasswordLength'
        ? Number(value)
        : key === 'ExcludeCharacters'
          ? String(value)
          : value === true || value === 'true';
  }
  const { RandomPassword } = call(sm, 'GetRandomPassword', passwordOptions) as { RandomPassword: string };
  const template = options.SecretStringTemplate;
  const key = options.GenerateStringKey;
  if (template === undefined && key === undefined) return RandomPassword;
  if (typeof template !== 'string' || typeof key !== 'string' || key === '') {
    throw new SecretDeployError(
      'GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(template);
  } catch (error) {
    throw new SecretDeployError('SecretStringTemplate is not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretDeployError('SecretStringTemplate must be a JSON object');
  }
  return JSON.stringify({ ...parsed, [key]: RandomPassword });
}

function recordRotation(sm: SecretsManagerEmulator, resource: ResolvedResource): DeployedResource {
  const { properties } = resource;
  const secretId = properties.SecretId;
  if (typeof secretId !== 'string') throw new SecretDeployError('RotationSchedule needs a SecretId');
  const rules = properties.RotationRules as Record<string, unknown> | undefined;
  const { ARN } = call(sm, 'RotateSecret', {
    SecretId: secretId,
    RotateImmediately: false,
    ...(typeof properties.RotationLambdaARN === 'string'
      ? { RotationLambdaARN: properties.RotationLambdaARN }
      : {}),
    ...(rules
      ? {
          RotationRules: {
            ...rules,
            ...(rules.AutomaticallyAfterDays !== undefined
              ? { AutomaticallyAfterDays: Number(rules.AutomaticallyAfterDays) }
              : {}),
          },
        }
      : {}),
  }) as { ARN: string };
  return { ref: ARN, attributes: { Id: ARN } };
}

function call(sm: SecretsManagerEmulator, operation: string, input: Record<string, unknown>): unknown {
  const response: EmulatorResponse = sm.handle(`${TARGET_PREFIX}${operation}`, input);
  if (response.status !== 200) {
    const { __type, message } = response.body as { __type?: string; message?: string };
    throw new SecretDeployError(`${operation}: ${__type ?? 'Error'}: ${message ?? 'failed'}`);
  }
  return response.body;
}
