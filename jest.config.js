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

/** Subpath imports (#core/*, #shared/*, #events/*, #local/*) mirror package.json "imports". */
const moduleNameMapper = {
  '^#core/(.*)$': '<rootDir>/functions/core/$1',
  '^#shared/(.*)$': '<rootDir>/functions/shared/$1',
  '^#events/(.*)$': '<rootDir>/events/$1',
  '^#local/(.*)$': '<rootDir>/local/$1',
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
  collectCoverageFrom: ['functions/core/**/*.ts', 'events/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: {
    global: { lines: 90, branches: 80, functions: 90, statements: 90 },
  },
};
