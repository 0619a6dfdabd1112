import type { Metafile } from 'esbuild';
import { percentile } from '../../bench/decisions';
import {
  bundleFunction,
  coldInit,
  contributors,
  externalSdkPackages,
  functionEntries,
  median,
  sourceOf,
} from '../../bench/functions';

describe('bench functions', () => {
  it('names a metafile input by its package or first-party folder', () => {
    // Act / Assess
    expect(sourceOf('node_modules/zod/v4/core/schemas.js')).toBe('zod');
    expect(sourceOf('node_modules/@aws-lambda-powertools/logger/lib/x.js')).toBe(
      '@aws-lambda-powertools/logger',
    );
    expect(sourceOf('node_modules/a/node_modules/semver/index.js')).toBe('semver');
    expect(sourceOf('functions/core/triage.ts')).toBe('functions/core');
  });

  it('sums bytes in the output by source, largest first', () => {
    // Prepare
    const metafile = {
      inputs: {},
      outputs: {
        'out.js': {
          bytes: 0,
          imports: [],
          exports: [],
          inputs: {
            'node_modules/zod/a.js': { bytesInOutput: 30 },
            'node_modules/zod/b.js': { bytesInOutput: 20 },
            'functions/core/x.ts': { bytesInOutput: 40 },
            'functions/shared/y.ts': { bytesInOutput: 5 },
          },
        },
      },
    } as unknown as Metafile;

    // Act
    const top = contributors(metafile, 2);

    // Assess
    expect(top).toEqual([
      { source: 'zod', bytes: 50 },
      { source: 'functions/core', bytes: 40 },
    ]);
  });

  it('lists the external AWS SDK packages a metafile imports, once each', () => {
    // Prepare
    const metafile = {
      outputs: {},
      inputs: {
        'functions/a.ts': {
          bytes: 1,
          imports: [
            { path: '@aws-sdk/client-sqs', kind: 'import-statement', external: true },
            { path: 'functions/b.ts', kind: 'import-statement' },
            { path: 'zod', kind: 'import-statement', external: true },
          ],
        },
        'functions/b.ts': {
          bytes: 1,
          imports: [
            { path: '@aws-sdk/client-dynamodb', kind: 'import-statement', external: true },
            { path: '@aws-sdk/client-sqs', kind: 'require-call', external: true },
          ],
        },
      },
    } as unknown as Metafile;

    // Act / Assess
    expect(externalSdkPackages(metafile)).toEqual(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs']);
  });

  it.each([
    ['authorizer', ['@aws-sdk/client-secrets-manager']],
    ['dlq', ['@aws-sdk/client-sqs']],
    ['triage', ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb']],
  ])(
    'bundles %s with only the SDK packages it uses (each one is cold-start time)',
    async (name, sdk) => {
      // Prepare
      const entry = functionEntries().find((e) => e.name === name);

      // Act
      const bundle = await bundleFunction(entry as NonNullable<typeof entry>);

      // Assess
      expect(bundle.aws_sdk).toEqual(sdk);
    },
    60_000,
  );

  it('takes the median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('lists every handler and the reference agent, then bundles and cold-loads one as the stack does', async () => {
    // Prepare
    const entries = functionEntries();
    const health = entries.find((e) => e.name === 'health');

    // Act
    const bundle = await bundleFunction(health as (typeof entries)[number]);
    const init = coldInit(bundle.file, 1);

    // Assess
    expect(entries.map((e) => e.name)).toEqual(
      expect.arrayContaining(['intake', 'workflow', 'sweep', 'reference-agent']),
    );
    expect(bundle.bytes).toBeGreaterThan(bundle.gzip_bytes);
    expect(bundle.top.length).toBeGreaterThan(0);
    expect(init).toEqual({ samples: [expect.any(Number)] });
  }, 60_000);
});

describe('bench decisions', () => {
  it('takes a nearest-rank percentile of sorted samples', () => {
    // Act / Assess
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});
