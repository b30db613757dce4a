// `pop serve` (and `npm start`): the service on DATABASE_URL, or on the embedded PostgreSQL in
// POP_DATA_DIR. Prints where it listens, the admin key when it created one, and what to try next.
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig } from '../service/config.js';
import { startService } from '../service/start.js';
import { EmbeddedDatabaseError } from '../db/embedded.js';
import { UsageError } from './exit.js';

export async function serve(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const say = (msg: string) => process.stderr.write(`pop: ${msg}\n`);
  let service;
  try {
    service = await startService(config, say);
  } catch (e) {
    if (e instanceof EmbeddedDatabaseError || e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const lines = [
    '',
    `Proof of Process is listening on ${service.url}`,
    `  database: ${service.embedded ? `embedded PostgreSQL in ${config.dataDir}` : 'DATABASE_URL'}`,
    `  API docs: ${service.url}/docs`,
  ];
  if (service.adminKey) {
    lines.push(
      '',
      `  admin API key (shown once; also saved to ${service.adminKeyFile}):`,
      `    ${service.adminKey}`,
    );
  } else if (!config.adminKey) {
    lines.push('', `  admin API key: the one created at the first start (see ${config.dataDir}/admin.key), or set POP_ADMIN_KEY`);
  }
  lines.push(
    '',
    '  next, try:',
    `    curl -s ${service.url}/v1/processes -H "Authorization: Bearer $(cat ${config.dataDir}/admin.key 2>/dev/null || echo "$POP_ADMIN_KEY")"`,
    '',
  );
  process.stdout.write(lines.join('\n') + '\n');
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) say(`stopping after an error: ${err.message}`);
    else say(`stopping (${signal})`);
    await service.close();
  });
}
