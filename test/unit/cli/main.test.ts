import { PassThrough } from 'node:stream';
import { main } from '../../../cli/main';

/** Runs the CLI in-process and collects what it writes. */
async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (chunk) => out.push(String(chunk)));
  stderr.on('data', (chunk) => err.push(String(chunk)));
  const code = await main(['node', 'orchestrator', ...args], env, { stdout, stderr });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('main', () => {
  it('prints help with the exit codes and exits 0', async () => {
    const { code, stdout } = await run(['--help']);

    expect(code).toBe(0);
    expect(stdout).toContain('Exit codes:');
    expect(stdout).toContain('watch [options] <workflow_id>');
  });

  it('rejects an unknown command with exit code 2 and one stderr line', async () => {
    const { code, stdout, stderr } = await run(['frobnicate']);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')[0]).toBe("orchestrator: unknown command 'frobnicate'");
  });

  it('rejects a role the API does not know', async () => {
    const { code, stderr } = await run(['token', '--role', 'root']);

    expect(code).toBe(2);
    expect(stderr).toMatch(/argument 'root' is invalid/);
  });

  it('fails with exit code 3 and a hint when the outputs file is missing', async () => {
    const { code, stderr } = await run(['agents', '--json', '--outputs', '/nonexistent/outputs.json']);

    expect(code).toBe(3);
    expect(stderr.split('\n')).toEqual([
      'orchestrator: cannot read the outputs file /nonexistent/outputs.json: ENOENT',
      'orchestrator: hint: pass --outputs <file> written by `npm start` or `cdk deploy --outputs-file`',
      '',
    ]);
  });

  it('fails with exit code 2 before any call when the request file is missing', async () => {
    const { code, stderr } = await run(['submit', 'missing.json', '--outputs', '/nonexistent/outputs.json']);

    expect(code).toBe(2);
    expect(stderr).toBe('orchestrator: cannot read missing.json: ENOENT\n');
  });
});
