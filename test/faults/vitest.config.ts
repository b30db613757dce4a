// `npm run test:faults`: the long fault run (test/faults/*.fault.ts), on demand, not in CI. Its
// bounded subset runs with `npm test` (test/integration/faults.test.ts).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/faults/**/*.fault.ts'],
    globalSetup: ['test/setup/database.ts'],
    testTimeout: 4 * 3_600_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
