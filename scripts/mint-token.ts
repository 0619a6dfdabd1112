/**
 * Mints a bearer token for a deployed stack, signed with the stack's JWT key read
 * through the Secrets Manager API (never from a file). The `orchestrator token`
 * command will supersede this script.
 *
 *   npx tsx scripts/mint-token.ts --role operator [--sub alice] [--ttl 3600]
 *        [--outputs cdk-outputs.json | --secret-arn arn:aws:secretsmanager:...]
 *
 * The outputs file is what `cdk deploy --outputs-file` writes (contract C2); its
 * `JwtSecretArn` output names the secret. The SDK's usual credentials and endpoint
 * settings apply (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL...).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import { ROLES, type Role } from '#shared/routes';

const USAGE =
  'usage: tsx scripts/mint-token.ts --role <viewer|operator|agent|admin> [--sub <id>] [--ttl <seconds>] [--outputs <file> | --secret-arn <arn>]';

function fail(message: string): never {
  console.error(`mint-token: ${message}\n${USAGE}`);
  process.exit(2);
}

function secretArnFromOutputs(file: string): string {
  let outputs: Record<string, Record<string, string>>;
  try {
    outputs = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(`cannot read the outputs file ${file}: ${(error as Error).message}`);
  }
  for (const stack of Object.values(outputs)) if (stack?.JwtSecretArn) return stack.JwtSecretArn;
  fail(`${file} has no JwtSecretArn output; deploy the stack with --outputs-file first`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      outputs: { type: 'string', default: '.local/outputs.json' },
      'secret-arn': { type: 'string' },
    },
  });
  const role = values.role as Role | undefined;
  if (!role || !ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
  const ttlSeconds = Number(values.ttl);
  const secretArn = values['secret-arn'] ?? secretArnFromOutputs(values.outputs);

  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!secret.SecretString) fail(`secret ${secretArn} has no string value`);
  const token = await signToken(
    { sub: values.sub ?? `${role}-cli`, role, ttlSeconds },
    keyFromSecret(secret.SecretString),
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(`mint-token: ${(error as Error).message}`);
  process.exit(1);
});
