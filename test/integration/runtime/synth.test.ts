/**
 * The synth cache on a throwaway project folder: what the hash covers, and a fresh
 * cache skipping `cdk synth` altogether.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSynthInputs, synthesize } from '#local/runtime/synth';
import { PROJECT_DIR } from './boot';

let project: string;

beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), 'synth-test-'));
  mkdirSync(join(project, 'functions', 'intake'), { recursive: true });
  mkdirSync(join(project, 'infra'), { recursive: true });
  writeFileSync(join(project, 'functions', 'intake', 'handler.ts'), 'export const a = 1;');
  writeFileSync(join(project, 'infra', 'app.ts'), 'app');
  writeFileSync(join(project, 'cdk.json'), '{}');
  writeFileSync(join(project, 'package-lock.json'), '{}');
});

afterEach(() => rmSync(project, { recursive: true, force: true }));

describe('hashSynthInputs', () => {
  it('changes with a source file, a new file, cdk.json or the context, and with nothing else', () => {
    // Prepare
    const base = hashSynthInputs(project);

    // Act
    writeFileSync(join(project, 'README.md'), 'not an input');
    mkdirSync(join(project, 'infra', 'node_modules'));
    writeFileSync(join(project, 'infra', 'node_modules', 'x.js'), 'ignored');
    const unrelated = hashSynthInputs(project);
    const withContext = hashSynthInputs(project, { websocket: 'false' });
    writeFileSync(join(project, 'functions', 'intake', 'handler.ts'), 'export const a = 2;');
    const edited = hashSynthInputs(project);
    mkdirSync(join(project, 'statemachines'));
    writeFileSync(join(project, 'statemachines', 'recovery.asl.json'), '{}');
    const added = hashSynthInputs(project);

    // Assess
    expect(unrelated).toBe(base);
    expect(new Set([base, withContext, edited, added]).size).toBe(4);
  });
});

describe('synthesize', () => {
  it('skips the CDK CLI when the stored hash matches and the assembly exists', async () => {
    // Prepare
    mkdirSync(join(project, 'cdk.out'));
    writeFileSync(join(project, 'cdk.out', 'manifest.json'), '{}');
    mkdirSync(join(project, '.local'));
    writeFileSync(join(project, '.local', 'synth-hash'), `${hashSynthInputs(project)}\n`);

    // Act
    const result = await synthesize({ projectDir: project });

    // Assess
    expect(result).toMatchObject({ cached: true, assemblyDir: join(project, 'cdk.out') });
  });

  it('fails with the CLI output when the app fails', async () => {
    // Prepare: the project's CLI, and an app that exits at once.
    symlinkSync(join(PROJECT_DIR, 'node_modules'), join(project, 'node_modules'), 'dir');
    writeFileSync(join(project, 'cdk.json'), JSON.stringify({ app: 'node -e "process.exit(3)"' }));

    // Act
    const failing = synthesize({ projectDir: project });

    // Assess
    await expect(failing).rejects.toThrow(/cdk synth --quiet --no-notices --output .* failed \(exit \d+\)/);
  }, 60_000);

  it('fails naming npm ci when the CDK CLI is not installed', async () => {
    await expect(synthesize({ projectDir: project })).rejects.toThrow(
      /the CDK CLI is not installed .*run npm ci/,
    );
  });
});
