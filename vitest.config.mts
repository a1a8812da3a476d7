import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Tests switch the process-wide backend and instruction set: run each file in its own process.
    pool: 'forks',
  },
});
