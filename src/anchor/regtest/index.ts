// A local regtest network for tests and for local use (POP_ANCHOR=regtest): an Esplora-compatible
// HTTP server on 127.0.0.1 over a real chain kept in memory (see chain.ts for what is validated).
// With `persistPath`, the chain (raw blocks) and the mempool are written after every change (write to
// a temporary file, then rename) and reloaded — and re-validated block by block — at start.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { RegtestChain, type ReorgOptions } from './chain.js';
import { createRegtestServer } from './server.js';

export { RegtestChain, TxRejected, BlockRejected, RegtestInputError, REGTEST_GENESIS_HASH, REGTEST_BITS, COINBASE_MATURITY } from './chain.js';
export type { ReorgOptions, TxStatus, UtxoEntry, ChainSnapshot } from './chain.js';

export interface RegtestNetwork {
  /** Esplora base URL, e.g. http://127.0.0.1:PORT (routes are relative to it). */
  url: string;
  /** Mines `blocks` blocks (taking the mempool); returns their hashes (display hex). */
  mine(blocks: number, toAddress?: string): Promise<string[]>;
  /** A confirmed, mature UTXO paying `address`. Mines one block (confirming the whole mempool). */
  fund(address: string, sats: bigint): Promise<{ txid: string; vout: number }>;
  /**
   * Replaces the last `depth` blocks by `depth + 1` new ones. Transactions of the dropped blocks go
   * back to the mempool if still valid (and into the first new block), or vanish with `dropTxs`;
   * `includeMempool: false` leaves the new blocks empty so they stay unconfirmed.
   */
  reorg(depth: number, opts?: ReorgOptions): Promise<void>;
  tipHeight(): number;
  stop(): Promise<void>;
}

export interface RegtestOptions {
  port?: number;
  persistPath?: string;
  log?: (m: string) => void;
}

export async function startRegtest(opts: RegtestOptions = {}): Promise<RegtestNetwork> {
  const log = opts.log ?? (() => {});
  const path = opts.persistPath;
  let chain: RegtestChain;
  if (path && existsSync(path)) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`regtest: cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
    chain = RegtestChain.restore(data, log);
  } else {
    chain = new RegtestChain(log);
  }
  if (path) {
    const save = (): void => {
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(chain.snapshot()));
      renameSync(tmp, path);
    };
    mkdirSync(dirname(path), { recursive: true });
    save(); // fails loudly at start if the path is not writable
    chain.onChange = () => {
      try {
        save();
      } catch (e) {
        log(`regtest: could not save ${path}: ${(e as Error).message}`);
      }
    };
  }

  const server = createRegtestServer(chain, log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  log(`regtest: Esplora API on ${url}, tip ${chain.tipHeight}, faucet ${chain.faucetAddress}`);

  let stopped: Promise<void> | null = null;
  return {
    url,
    mine: async (blocks, toAddress) => chain.mine(blocks, toAddress),
    fund: async (address, sats) => chain.fund(address, sats),
    reorg: async (depth, reorgOpts) => {
      chain.reorg(depth, reorgOpts);
    },
    tipHeight: () => chain.tipHeight,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        chain.onChange = null;
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
