/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Transpile only (types are checked once by `npm run typecheck`), so each file costs milliseconds.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testTimeout: 30000,
  // Both cores: most files wait on real time (audio played at 20 ms a frame, timeouts), so two at once halve the
  // wall time; the timing assertions allow for a loaded machine.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
