import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts', 'tests/renderer/**/*.test.tsx', 'tests/e2e/**/*.test.ts', 'tests/chaos/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // Generous bounds: the suite must pass on a loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
  },
})
