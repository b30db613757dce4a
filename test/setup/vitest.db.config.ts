// Runs only the database integration tests, with the globalSetup that the main vitest.config.ts
// is to get as well: `npx vitest run -c test/setup/vitest.db.config.ts`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../../', import.meta.url).pathname,
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['test/setup/database.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
