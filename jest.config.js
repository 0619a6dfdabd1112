// @swc/jest is the transform: it compiles TypeScript per file in Rust with no
// type checking (tsc does that in `npm run typecheck`), so the suite starts fast.
/** @type {import('jest').Config['transform']} */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
  ],
};

/** Subpath imports (#core/*, #shared/*, #events/*) mirror package.json "imports". */
const moduleNameMapper = {
  '^#core/(.*)$': '<rootDir>/functions/core/$1',
  '^#shared/(.*)$': '<rootDir>/functions/shared/$1',
  '^#events/(.*)$': '<rootDir>/events/$1',
};

/** @param {string} name @param {Partial<import('jest').Config>} [extra] */
const project = (name, extra = {}) => ({
  displayName: name,
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform,
  moduleNameMapper,
  ...extra,
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    project('unit'),
    project('infra'),
    project('integration', { slowTestThreshold: 30 }),
    project('e2e', { slowTestThreshold: 60 }),
  ],
  collectCoverageFrom: ['functions/core/**/*.ts', 'events/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: {
    global: { lines: 90, branches: 80, functions: 90, statements: 90 },
  },
};
