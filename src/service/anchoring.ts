// Sets up anchoring for POP_ANCHOR: an Esplora client and the anchoring key. With POP_ANCHOR=regtest
// it also starts the local regtest network in process (its chain kept in POP_DATA_DIR), makes and
// funds an anchoring key, and mines a block every couple of seconds while an anchor waits — the
// whole path runs here without internet.
import type { Pool } from 'pg';
import { Anchorer } from '../anchor/anchorer.js';
import { Esplora } from '../anchor/esplora.js';
import { startRegtest, type RegtestNetwork } from '../anchor/regtest/index.js';
import { newWif, walletFromWif } from '../anchor/tx.js';
import type { Config } from './config.js';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { writeSecretFile } from './secrets.js';

export interface AnchoringHandle {
  anchorer: Anchorer;
  regtest: RegtestNetwork | undefined;
  stop(): Promise<void>;
}

const REGTEST_FUNDING_SATS = 100_000_000n; // 1 regtest BTC
const REGTEST_BLOCK_MS = 2_000;

export async function startAnchoring(
  config: Config,
  pool: Pool,
  appLog: (msg: string, extra?: Record<string, unknown>) => void,
  say: (msg: string) => void,
): Promise<AnchoringHandle> {
  const network = config.anchor as Exclude<Config['anchor'], 'off'>;
  let regtest: RegtestNetwork | undefined;
  let wif = config.btcWif;
  if (network === 'regtest') {
    regtest = await startRegtest({ persistPath: join(config.dataDir, 'regtest-chain.json') });
    const wifFile = join(config.dataDir, 'btc-regtest.wif');
    if (!wif) {
      if (existsSync(wifFile)) wif = readFileSync(wifFile, 'utf8').trim();
      else {
        wif = newWif('regtest');
        writeSecretFile(config.dataDir, 'btc-regtest.wif', wif);
      }
    }
  }
  const wallet = walletFromWif(wif!, network);
  const esplora = new Esplora(config.esploraUrl ?? regtest!.url);
  if (regtest) {
    const utxos = await esplora.utxos(wallet.address);
    const balance = utxos.filter((u) => u.status.confirmed).reduce((sum, u) => sum + BigInt(u.value), 0n);
    if (balance < REGTEST_FUNDING_SATS / 10n) await regtest.fund(wallet.address, REGTEST_FUNDING_SATS);
    say(`anchoring to a local regtest network at ${regtest.url} from ${wallet.address}`);
  } else {
    say(`anchoring to Bitcoin ${network} through ${esplora.baseUrl} from ${wallet.address}`);
  }
  const anchorer = new Anchorer({
    pool,
    esplora,
    wallet,
    network,
    intervalMs: config.anchorIntervalMs,
    confirmations: config.anchorConfirmations,
    feeFloor: config.anchorFeeFloor,
    rebroadcastMs: 60_000,
    now: () => new Date(),
    log: appLog,
  });
  // The local network has no miners of its own: mine while an anchor waits for confirmations.
  const miner = regtest
    ? setInterval(() => {
        void pool
          .query("SELECT 1 FROM anchors WHERE status = 'broadcast' LIMIT 1")
          .then((r) => (r.rowCount ? regtest!.mine(1) : undefined))
          .catch(() => {});
      }, REGTEST_BLOCK_MS)
    : undefined;
  return {
    anchorer,
    regtest,
    async stop() {
      if (miner) clearInterval(miner);
      await regtest?.stop();
    },
  };
}
