const { availableParallelism } = require('node:os');

// The SDK's Node.js 22 notice is harmless on Node 20; keep it out of every test's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Every suite ends, pass or fail, on a slow or busy machine: each test file runs under a time
 * limit and may leave nothing open (test/support/environment.js), each test and hook under a
 * timeout, and property tests under a time budget of their own (test/support/properties.ts).
 * `npm run test:unit` is the fast part; `npm test` runs everything.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: '<rootDir>/test/support/environment.js',
  // At least two workers, even on two cores: the suites wait on loopback I/O as much as they
  // compute, a file that crashes its worker fails alone, and jest ends workers that linger.
  maxWorkers: Math.max(2, availableParallelism() - 1),
  // Globals a file leaves behind are deleted between files, not kept behind a warning.
  testEnvironmentOptions: { globalsCleanup: 'on' },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking is `npm run typecheck`'s job; tests only transpile, which keeps them fast.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  // Generous for a busy machine; a test that needs longer says so, and the file limit caps all.
  testTimeout: 60_000,
  collectCoverageFrom: ['contract/**/*.ts', 'policy/**/*.ts', 'lambda/**/*.ts', 'lib/**/*.ts', 'cli/**/*.ts'],
};
