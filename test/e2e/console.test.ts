// The web console in real Chromium (Debian's, driven by playwright-core) on a service seeded by
// `pop demo`: sign-in, the overview (live through the event stream), a map's timeline, the link
// page's role-aware private data, and the verify page checking a real proof and a real bundle in
// the browser (signatures through WebCrypto where Chromium has the algorithm, and the report says
// so) — with no network request while it verifies — and rejecting tampered ones with the same
// reason core gives in Node. Chromium is required: without it this file fails, loudly.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from '../../scripts/screenshots.js';
import { buildConsole } from '../../src/console/build.js';
import { verifyBundle } from '../../src/core/bundle.js';
import { VerificationError } from '../../src/core/errors.js';
import { verifyProof } from '../../src/core/proof.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { type TestService, startTestService } from '../helpers/service.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'pop-console-'));
const STEPS = ['order', 'confirm', 'produce', 'ship', 'deliver', 'pay'];

let browser: Browser;
let svc: TestService;
let url: string;
let maps: string[] = [];
let links: string[] = [];

function pop(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, POP_URL: url, POP_API_KEY: svc.adminKey, POP_DATA_DIR: dir },
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

interface Session {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught exceptions and CSP violations the page reported. */
  errors: string[];
  /** Every request the page (or its worker) made, in order. */
  requests: string[];
}

async function open(key?: string): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('pageerror', (e) => void errors.push(e.message));
  context.on('request', (r) => void requests.push(r.url()));
  await page.goto(`${url}/`);
  if (key) {
    await page.fill('#api-key', key);
    await page.click('.sign-in-form button[type=submit]');
    await page.locator('#whoami').waitFor();
  }
  return { context, page, errors, requests };
}

beforeAll(async () => {
  browser = await launchChromium(); // throws a clear message when Chromium is missing
  await buildConsole(); // the test runs against the console built from the current sources
  svc = await startTestService({ parties: false, process: false });
  svc.sealer({ intervalMs: 50, difficulty: 8 }).start();
  url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
  const demo = await pop(['demo', '--maps', '2', '--json']);
  expect(demo.code, demo.stderr).toBe(0);
  ({ maps, links } = JSON.parse(demo.stdout) as { maps: string[]; links: string[] });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the web console', () => {
  test('is served at / with a strict CSP; the verifier worker alone may eval, and has no network', async () => {
    const index = await fetch(`${url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-(eval|inline)/);
    const html = await index.text();
    const worker = /name="pop-verify-worker" content="([^"]+)"/.exec(html)![1]!;
    const w = await fetch(url + worker);
    expect(w.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(w.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self' 'unsafe-eval'");
    expect(w.headers.get('cache-control')).toContain('immutable');
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)![1]!;
    expect((await fetch(url + css)).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(`${url}/assets/nope.js`)).status).toBe(404);

    const stats = await svc.request('GET', '/v1/stats');
    expect(stats.status).toBe(200);
    expect(stats.json).toMatchObject({ viewer: { role: 'admin' }, links: { total: 12, sealed: 12 } });
    expect((await svc.request('GET', '/v1/stats', { key: null })).status).toBe(401);
  });

  test('sign-in, then the overview renders without console errors and follows the event stream', async () => {
    const s = await open();
    try {
      await s.page.locator('#api-key').waitFor(); // a visitor without a key is asked for one
      await s.page.fill('#api-key', 'not-a-valid-key-at-all');
      await s.page.click('.sign-in-form button[type=submit]');
      await expect.poll(() => s.page.locator('#sign-in-error').textContent(), { timeout: 15_000 }).toMatch(/not valid/);
      expect(s.errors).toEqual(['Failed to load resource: the server responded with a status of 401 (Unauthorized)']); // that refusal, and nothing else
      s.errors.length = 0;
      await s.page.fill('#api-key', svc.adminKey);
      await s.page.click('.sign-in-form button[type=submit]');
      await s.page.locator('#throughput-chart').waitFor();
      expect(await s.page.locator('#whoami').textContent()).toContain('admin');
      expect(await s.page.locator('#stat-accepted .stat-value').textContent()).toBe('12');
      expect(await s.page.locator('#stat-sealed .stat-value').textContent()).toBe('12');
      expect(await s.page.locator('#stat-height .stat-value').textContent()).toMatch(/^#\d+$/);
      expect(await s.page.locator('#latest-blocks tbody tr').count()).toBeGreaterThan(0);
      expect(await s.page.locator('#throughput-chart .chart-bar').count()).toBeGreaterThan(0);
      await s.page.locator('#live-state[data-state=live]').waitFor();
      // Another order while the page is open: the counters and the feed follow, without a reload.
      const more = await pop(['demo', '--maps', '1']);
      expect(more.code, more.stderr).toBe(0);
      await expect.poll(() => s.page.locator('#stat-accepted .stat-value').textContent(), { timeout: 15_000 }).toBe('18');
      await s.page.locator('#live-feed .feed-block').first().waitFor();
      expect(await s.page.locator('#live-feed .feed-link').count()).toBeGreaterThan(0);
      expect(s.errors).toEqual([]);
    } finally {
      await s.context.close();
    }
  }, 90_000);

  test("a map's timeline shows the demo's steps in order, and the process its step graph", async () => {
    const s = await open(svc.adminKey);
    try {
      await s.page.goto(`${url}/#/maps/order-to-cash/${maps[0]}`);
      await s.page.locator('#timeline .timeline-item').first().waitFor();
      const steps = await s.page.locator('#timeline .timeline-item').evaluateAll((items) => items.map((i) => (i as HTMLElement).dataset['step']));
      expect(steps).toEqual(STEPS);
      const text = await s.page.locator('#timeline').textContent();
      for (const who of ['Camille (customer)', 'Boutique SA (retailer)', 'ACME Freight (delivery)', 'PayCo (payment provider)']) expect(text).toContain(who);
      expect(text).toContain('co-signed by');
      expect(text).toMatch(/sealed in block #\d+/);
      expect(await s.page.locator('#timeline .pill').allTextContents()).toEqual(STEPS.map(() => 'Sealed'));

      await s.page.goto(`${url}/#/processes/order-to-cash`);
      await s.page.locator('#step-graph').waitFor();
      const nodes = await s.page.locator('#step-graph .graph-node').evaluateAll((g) => g.map((n) => (n as SVGGElement).dataset['step']));
      expect(nodes.sort()).toEqual([...STEPS, 'cancel'].sort());
      expect(await s.page.locator('#step-graph .graph-edge').count()).toBe(8); // start→order, 5 on the main path, order→cancel, confirm→cancel
      expect(s.errors).toEqual([]);
    } finally {
      await s.context.close();
    }
  }, 60_000);

  test('the link page shows private fields only to readers entitled to them', async () => {
    const order = links[0]!; // private: name "Customer 0", address "0 Demo Street"
    const admin = await open(svc.adminKey);
    try {
      await admin.page.goto(`${url}/#/links/${order}`);
      await admin.page.locator('#private table').waitFor();
      const shown = await admin.page.locator('#private').textContent();
      expect(shown).toContain('Customer 0');
      expect(shown).toContain('0 Demo Street');
      expect(admin.errors).toEqual([]);
    } finally {
      await admin.context.close();
    }

    // A participant sees the private data of the links it authored, and of no other.
    const deliveryKey = await svc.request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: 'delivery' } });
    const delivery = await open(deliveryKey.json['secret'] as string);
    try {
      await delivery.page.goto(`${url}/#/links/${links[3]}`); // ship, by delivery: trackingUrl
      await delivery.page.locator('#private table').waitFor();
      expect(await delivery.page.locator('#private').textContent()).toContain('https://track.example/0');
      await delivery.page.goto(`${url}/#/links/${order}`);
      await delivery.page.locator('#private', { hasText: 'not shown' }).waitFor();
      expect(await delivery.page.content()).not.toMatch(/Customer 0|Demo Street/);
      expect(delivery.requests.filter((r) => r.endsWith('/private'))).toEqual([`${url}/v1/links/${links[3]}/private`]);
      // Bundles are for admins, auditors and regulators: a participant is not offered one.
      await delivery.page.goto(`${url}/#/maps/order-to-cash/${maps[0]}`);
      await delivery.page.locator('#timeline .timeline-item').first().waitFor();
      expect(await delivery.page.getByRole('button', { name: 'Download bundle' }).count()).toBe(0);
      expect(delivery.errors).toEqual([]);
    } finally {
      await delivery.context.close();
    }

    const auditorKey = await svc.request('POST', '/v1/api-keys', { body: { role: 'auditor', label: 'console test' } });
    const auditor = await open(auditorKey.json['secret'] as string);
    try {
      await auditor.page.goto(`${url}/#/links/${order}`);
      await auditor.page.locator('#private', { hasText: 'not shown' }).waitFor();
      expect(await auditor.page.content()).not.toMatch(/Customer 0|Demo Street/);
      expect(auditor.requests.some((r) => r.endsWith('/private'))).toBe(false);

      const grant = await svc.request('POST', `/v1/links/${order}/disclosures`, { body: { reader: auditorKey.json['id'], fields: ['name'] } });
      expect(grant.status, grant.body).toBe(201);
      await auditor.page.reload();
      await auditor.page.locator('#private table').waitFor();
      const disclosed = await auditor.page.locator('#private').textContent();
      expect(disclosed).toContain('Customer 0');
      expect(disclosed).toContain('✓ matches a digest of the link');
      expect(await auditor.page.content()).not.toContain('Demo Street');
      expect(auditor.errors).toEqual([]);
    } finally {
      await auditor.context.close();
    }
  }, 60_000);

  test('the verify page verifies a real proof and a real bundle in the browser, with no network request, and rejects tampered ones with the reason', async () => {
    const proofText = (await svc.request('GET', `/v1/links/${links[2]}/proof`)).body;
    const bundleText = (await svc.request('GET', `/v1/bundles?process=order-to-cash&mapId=${maps[1]}`)).body;
    const proof = JSON.parse(proofText) as { link: { meta: Record<string, unknown> } };
    const bundle = JSON.parse(bundleText) as { type: string; links: { link: { meta: Record<string, unknown> } }[] };
    expect(bundle.type).toBe('pop/bundle/v1');

    // What core says in Node about the tampered files: the browser must say exactly the same.
    const tamperedProof = structuredClone(proof);
    tamperedProof.link.meta['units'] = 99;
    let expected: VerificationError | undefined;
    try {
      verifyProof(tamperedProof, { verifier: nodeVerifier });
    } catch (e) {
      expected = e as VerificationError;
    }
    expect(expected).toBeInstanceOf(VerificationError);
    const tamperedBundle = structuredClone(bundle);
    tamperedBundle.links[3]!.link.meta['parcels'] = 7;
    const expectedBundle = verifyBundle(tamperedBundle, { verifier: nodeVerifier }).failures;
    expect(expectedBundle).toHaveLength(1);

    // No key: verification needs none, and the verify page is open to anyone.
    const s = await open();
    try {
      await s.page.goto(`${url}/#/verify`);
      await s.page.locator('#verifier-state', { hasText: 'ready' }).waitFor();
      // Chromium has Ed25519 and P-256 in WebCrypto: the page says which library checks what.
      expect(await s.page.locator('#verifier-state').textContent()).toMatch(/Ed25519: WebCrypto · P-256: WebCrypto · secp256k1: noble/);
      const before = s.requests.length;
      const check = async (name: string, text: string) => {
        await s.page.setInputFiles('#verify-file', { name, mimeType: 'application/json', buffer: Buffer.from(text) });
        const verdict = s.page.locator('#verify-result [data-verdict]');
        await verdict.waitFor();
        const result = { verdict: await verdict.getAttribute('data-verdict'), text: (await s.page.locator('#verify-result').textContent()) ?? '' };
        await s.page.evaluate(() => document.getElementById('verify-result')!.replaceChildren());
        return result;
      };

      const good = await check('proof.json', proofText);
      expect(good.verdict).toBe('verified');
      expect(good.text).toContain('Verified');
      expect(good.text).toContain(links[2]);
      expect(good.text).toMatch(/Signature.*manufacturer/);
      expect(good.text).toMatch(/Signature.*retailer/);
      // Chromium has Ed25519 and P-256 in WebCrypto: the worker used it (webcrypto.ts), and says so.
      expect(good.text).toMatch(/Signatures checked by\s*Ed25519: WebCrypto \(\d+\)/);
      expect(good.text).not.toContain(': noble');

      const goodBundle = await check('bundle.json', bundleText);
      expect(goodBundle.verdict).toBe('verified');
      expect(goodBundle.text).toContain('6 of 6 links verified');
      expect(goodBundle.text.match(/✓ verified/g)).toHaveLength(6);
      // The demo's parties sign with all three algorithms: WebCrypto for two, noble for secp256k1.
      expect(goodBundle.text).toMatch(/Ed25519: WebCrypto \(\d+\) · secp256k1: noble \(\d+\) · P-256: WebCrypto \(\d+\)/);
      expect(goodBundle.text).not.toMatch(/(Ed25519|P-256): noble/);

      const bad = await check('tampered-proof.json', JSON.stringify(tamperedProof));
      expect(bad.verdict).toBe('failed');
      expect(bad.text).toContain('Failed');
      expect(bad.text).toContain(expected!.code);
      expect(bad.text).toContain(expected!.message);

      const badBundle = await check('tampered-bundle.json', JSON.stringify(tamperedBundle));
      expect(badBundle.verdict).toBe('failed');
      expect(badBundle.text).toContain('5 of 6 links verified');
      expect(badBundle.text).toContain(expectedBundle[0]!.code);
      expect(badBundle.text).toContain(expectedBundle[0]!.message);
      expect(badBundle.text).toMatch(/Ed25519: WebCrypto \(\d+\)/);

      const notJson = await check('notes.txt', 'hello');
      expect(notJson.verdict).toBe('failed');
      expect(notJson.text).toContain('not JSON');

      // Everything above ran in the browser: not one request left it while files were verified.
      expect(s.requests.slice(before)).toEqual([]);
      expect(s.errors).toEqual([]);
    } finally {
      await s.context.close();
    }
  }, 90_000);
});
