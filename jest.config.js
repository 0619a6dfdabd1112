// @swc/jest is the transform: it compiles TypeScript per file in Rust with no
// type checking (tsc does that in `npm run typecheck`), so the suite starts fast.
/** @type {import('jest').Config['transform']} */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
  ],
  // ESM-only dependencies (see transformIgnorePatterns) become CommonJS for Jest.
  '^.+\\.m?js$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
  ],
};

/**
 * @middy/core 6 and jose 6 ship only ES modules, which Jest's CommonJS runtime cannot
 * require on Node 20; they are transformed, every other package is loaded as is.
 */
const transformIgnorePatterns = ['/node_modules/(?!(@middy|jose)/)'];

/** Subpath imports (#core/*, #shared/*, #events/*, #local/*, #agents/*) mirror package.json "imports". */
const moduleNameMapper = {
  '^#core/(.*)$': '<rootDir>/functions/core/$1',
  '^#shared/(.*)$': '<rootDir>/functions/shared/$1',
  '^#events/(.*)$': '<rootDir>/events/$1',
  '^#local/(.*)$': '<rootDir>/local/$1',
  '^#agents/(.*)$': '<rootDir>/agents/$1',
};

/** @param {string} name @param {Partial<import('jest').Config>} [extra] */
const project = (name, extra = {}) => ({
  displayName: name,
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform,
  transformIgnorePatterns,
  moduleNameMapper,
  ...extra,
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    project('unit'),
    project('infra'),
    project('integration', {
      slowTestThreshold: 30,
      // DynamoDB Local and the Secrets Manager boot once for the whole project.
      globalSetup: '<rootDir>/test/integration/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/integration/setup/global-teardown.ts',
    }),
    project('e2e', { slowTestThreshold: 60 }),
  ],
  // Code run in other processes (global setup, Lambda worker threads) is not counted,
  // so local/ reads lower than it is; each area has its own floor below today's figure.
  collectCoverageFrom: [
    'functions/core/**/*.ts',
    'functions/shared/**/*.ts',
    'functions/*/handler.ts',
    'events/**/*.ts',
    'local/**/*.ts',
  ],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: {
    global: { lines: 90, branches: 75, functions: 90, statements: 90 },
    './functions/core/': { lines: 95, branches: 90, functions: 95, statements: 95 },
    './functions/shared/': { lines: 90, branches: 80, functions: 85, statements: 90 },
    './local/': { lines: 80, branches: 65, functions: 80, statements: 78 },
  },
};
