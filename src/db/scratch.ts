// Databases made and dropped on a server: the test suites' and benchmarks' fresh databases.
import pg from 'pg';

/** Runs `work` on one connection to `url`, closed afterwards. */
export async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface ScratchDatabase {
  url: string;
  /** Drops it (once; later calls share the first). */
  drop(): Promise<void>;
}

/** Creates the database `name` on the server of `serverUrl`. */
export async function createDatabase(serverUrl: string, name: string): Promise<ScratchDatabase> {
  await onServer(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    // WITH (FORCE) (PostgreSQL 13+) terminates the sessions still connected, e.g. from a pool that
    // was not ended, which would otherwise make DROP DATABASE fail.
    drop: () =>
      (dropped ??= onServer(serverUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      })),
  };
}
