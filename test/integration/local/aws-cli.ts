/**
 * Runs the machine's AWS CLI against a local endpoint with dummy credentials and no
 * profile, so nothing from the developer's ~/.aws leaks in.
 */
import { execFile } from 'node:child_process';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runAwsCli(endpoint: string, args: readonly string[]): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  const argv = ['--endpoint-url', endpoint, '--region', 'us-east-1', '--output', 'json', ...args];
  return new Promise((resolve, reject) => {
    execFile('aws', argv, { env, timeout: 25_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(
          new Error(`could not run the AWS CLI (aws ${argv.join(' ')}): ${error.message}`, { cause: error }),
        );
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** Reads a variable that global-setup.ts publishes; a missing one means the setup did not run. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this file through the jest "integration" project`);
  return value;
}
