// The sealing path through the CLI: `pop demo` posts complete orders and waits until sealed,
// `pop chain verify` audits the chain (and catches a tampered block), `pop proof` + `pop verify`
// check one link offline.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit.js';
import { type TestService, startTestService } from '../helpers/service.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'pop-chain-'));
let svc: TestService;
let url: string;

function pop(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, POP_URL: url, POP_API_KEY: svc.adminKey, POP_DATA_DIR: dir, ...env },
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  svc = await startTestService({ parties: false, process: false });
  svc.sealer({ intervalMs: 50, difficulty: 8 }).start();
  url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('demo, chain verify, proof and verify', () => {
  let maps: string[] = [];
  let links: string[] = [];

  test('pop demo registers everything, posts complete orders and waits until they are sealed', async () => {
    const r = await pop(['demo', '--maps', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    ({ maps, links } = JSON.parse(r.stdout) as { maps: string[]; links: string[] });
    expect(maps).toHaveLength(2);
    expect(links).toHaveLength(12);
    for (const h of links) expect((await svc.request('GET', `/v1/links/${h}`)).json['status']).toBe('sealed');
    const again = await pop(['demo', '--maps', '1']); // reuses its keys and the registered process
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/sealed 6 links in 1 maps/);
  });

  test('pop chain verify passes, pinned or not', async () => {
    const r = await pop(['chain', 'verify', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; links: number; blocks: number };
    expect(report.ok).toBe(true);
    expect(report.links).toBe(18);
    const pinned = await pop(['chain', 'verify', '--notary-key', svc.notaryPublicKey]);
    expect(pinned.code).toBe(0);
    expect(pinned.stdout).toContain('CHAIN VERIFIED');
    const wrong = await pop(['chain', 'verify', '--notary-key', '00'.repeat(32)]);
    expect(wrong.code).toBe(exitCodeFor('NOTARY_KEY_MISMATCH'));
  });

  test('pop proof -o and pop verify check one link offline', async () => {
    const file = join(dir, 'proof.json');
    const got = await pop(['proof', links[3]!, '-o', file]);
    expect(got.code, got.stderr).toBe(0);
    const v = await pop(['verify', file, '--notary-key', svc.notaryPublicKey, '--json']);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, links: 1 });
    expect((await pop(['proof', 'nothex'])).code).toBe(2);
  });

  test('pop bundle downloads a map bundle; bad arguments and the wrong role fail precisely', async () => {
    const file = join(dir, 'bundle.json');
    const r = await pop(['bundle', '--process', 'order-to-cash', '--map', maps[0]!, '-o', file]);
    expect(r.code, r.stderr).toBe(0);
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as { type: string; links: unknown[]; manifest: { count: number } };
    expect(bundle.type).toBe('pop/bundle/v1');
    expect(bundle.links).toHaveLength(6);
    expect(bundle.manifest.count).toBe(6);
    expect((await pop(['bundle', '--process', 'order-to-cash'])).code).toBe(2);
    const missing = await pop(['bundle', '--process', 'order-to-cash', '--map', 'nope']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/404 not-found/);
  });

  test('a block altered behind the ledger\'s back fails pop chain verify with its code', async () => {
    const client = new pg.Client({ connectionString: svc.databaseUrl });
    await client.connect();
    try {
      await client.query('ALTER TABLE blocks DISABLE TRIGGER blocks_append_only');
      await client.query("UPDATE blocks SET notary_sig = repeat('ab', 64) WHERE height = 0");
      await client.query('ALTER TABLE blocks ENABLE TRIGGER blocks_append_only');
    } finally {
      await client.end();
    }
    const r = await pop(['chain', 'verify']);
    expect(r.code).toBe(exitCodeFor('NOTARY_SIGNATURE_INVALID'));
    expect(r.stdout).toMatch(/NOTARY_SIGNATURE_INVALID: block 0/);
  });
});
