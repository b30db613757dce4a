// vitest globalSetup: gives integration tests a PostgreSQL server. With TEST_DATABASE_URL set (CI:
// postgres://postgres@127.0.0.1:5432/test) it does nothing and test/helpers/db.ts uses that server;
// otherwise it starts one embedded server for the whole run, in a fresh temporary directory, and
// hands its URL to the test workers through `provide` (read back with `inject`).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    embeddedDatabaseUrl: string | undefined;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.TEST_DATABASE_URL) return undefined;
  // As root the server runs as the `postgres` user, who must be able to enter this directory:
  // mkdtemp makes it 0700, so open it up (it holds nothing secret but a throwaway password).
  const dir = await mkdtemp(join(tmpdir(), 'pop-test-db-'));
  await chmod(dir, 0o755);
  try {
    const db = await startEmbeddedPostgres({ dataDir: dir });
    project.provide('embeddedDatabaseUrl', db.url);
    return async () => {
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
