// A fresh, uniquely named database per caller, on TEST_DATABASE_URL's server when that is set (CI),
// else on the embedded server that test/setup/database.ts (a vitest globalSetup) started for the run.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { type ScratchDatabase, createDatabase } from '../../src/db/scratch.js';

export type TestDatabase = ScratchDatabase;

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL ?? inject('embeddedDatabaseUrl');
  if (!url) {
    throw new Error(
      'No test database server: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test), ' +
        "or add 'test/setup/database.ts' to globalSetup in the vitest config.",
    );
  }
  return url;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase(serverUrl(), `pop_test_${process.pid}_${randomBytes(6).toString('hex')}`);
}
