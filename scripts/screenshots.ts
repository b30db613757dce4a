// `npm run screenshots`: pictures of every console page for the README, into docs/screenshots/.
// Starts a real service (`pop serve`, an embedded PostgreSQL in a temporary directory, Bitcoin
// anchoring on the local regtest network), seeds it with `pop demo`, and drives Debian's Chromium
// through the pages with playwright-core. Needs /usr/bin/chromium (apt-get install -y chromium).
//
// Also exports the Chromium launcher the console's end-to-end test uses.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { buildConsole } from '../src/console/build.js';

const root = join(fileURLToPath(import.meta.url), '../..');

export const CHROMIUM_PATH = '/usr/bin/chromium';
// Without the background-networking flags Chromium tries to reach Google at every start, which this
// machine's closed network refuses. Playwright gives every launch a fresh, empty user-data-dir.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: the console's browser tests and screenshots need Debian's chromium (apt-get install -y chromium; .ci/run installs it when missing)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Service {
  url: string;
  key: string;
  dataDir: string;
  stop(): Promise<void>;
}

async function startService(): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pop-screenshots-'));
  chmodSync(dataDir, 0o755); // as root, the embedded PostgreSQL runs as `postgres` and must enter it
  const port = await freePort();
  const key = `screenshots-${randomBytes(24).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POP_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    POP_ADMIN_KEY: key,
    POP_ANCHOR: 'regtest',
    POP_POW_BITS: '12',
    LOG_LEVEL: 'warn',
  };
  delete env['DATABASE_URL']; // always a fresh embedded database, never someone's real one
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pop serve exited (${child.exitCode}):\n${log}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`pop serve did not become ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    url,
    key,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function pop(svc: Service, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, POP_URL: svc.url, POP_API_KEY: svc.key, POP_DATA_DIR: svc.dataDir },
    }, (error, stdout, stderr) => (error ? reject(new Error(`pop ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

async function api<T>(svc: Service, path: string): Promise<T> {
  const res = await fetch(svc.url + path, { headers: { authorization: `Bearer ${svc.key}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function main(): Promise<void> {
  const outDir = join(root, 'docs/screenshots');
  mkdirSync(outDir, { recursive: true });
  const built = await buildConsole();
  process.stderr.write(`console built (${Object.keys(built.assets).length} files)\n`);
  const svc = await startService();
  process.stderr.write(`service at ${svc.url}; seeding with pop demo (anchored on regtest)…\n`);
  const browser = await launchChromium();
  const files = mkdtempSync(join(tmpdir(), 'pop-screenshot-files-'));
  try {
    await pop(svc, ['demo', '--maps', '2', '--wait', 'anchored']);
    await new Promise((r) => setTimeout(r, 4000));
    const second = JSON.parse(await pop(svc, ['demo', '--maps', '3', '--wait', 'anchored', '--json'])) as { maps: string[]; links: string[] };
    const mapId = second.maps[0]!;
    const orderLink = second.links[0]!;
    const bundleFile = join(files, `${mapId}.bundle.json`);
    const bundleText = await fetch(`${svc.url}/v1/bundles?process=order-to-cash&mapId=${mapId}`, { headers: { authorization: `Bearer ${svc.key}` } }).then((r) => r.text());
    writeFileSync(bundleFile, bundleText);
    const tampered = JSON.parse(bundleText) as { links: { link: { meta: Record<string, unknown> } }[] };
    tampered.links[0]!.link.meta['total'] = 1;
    const tamperedFile = join(files, 'tampered.bundle.json');
    writeFileSync(tamperedFile, JSON.stringify(tampered));

    const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const shot = async (name: string) => {
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
      process.stderr.write(`  docs/screenshots/${name}.png\n`);
    };
    const go = async (hash: string, ready: string) => {
      await page.goto(`${svc.url}/#${hash}`);
      await page.locator(ready).first().waitFor();
    };

    await go('/', '#api-key');
    await shot('sign-in');
    await page.fill('#api-key', svc.key);
    await page.click('button[type=submit]');
    await page.locator('#throughput-chart').waitFor();
    await page.locator('#live-state[data-state=live]').waitFor();
    // Something happens while the overview is open: its live feed and counters follow.
    await pop(svc, ['demo', '--maps', '1']);
    await page.locator('#live-feed .feed-block').first().waitFor();
    await page.waitForTimeout(1200);
    await shot('overview');
    await go('/processes', '.process-card');
    await shot('processes');
    await go('/processes/order-to-cash', '#step-graph');
    await page.locator('#maps table').waitFor();
    await shot('process');
    await go(`/maps/order-to-cash/${mapId}`, '#timeline .timeline-item');
    await shot('timeline');
    await go(`/links/${orderLink}`, '#proof .button-row');
    await page.locator('#private table').waitFor();
    await page.click('#verify-proof');
    await page.locator('#proof [data-verdict]').waitFor();
    await shot('link');
    await go('/blocks', '#blocks table');
    await shot('blocks');
    const tip = await api<{ height: number }>(svc, '/v1/blocks/tip');
    await go(`/blocks/${Math.max(0, tip.height - 1)}`, '#header dl');
    await shot('block');
    await go('/anchors', '#anchor-list table');
    await shot('anchors');
    await go('/verify', '#dropzone');
    await page.locator('#verifier-state', { hasText: 'ready' }).waitFor();
    await page.setInputFiles('#verify-file', bundleFile);
    await page.locator('#verify-result [data-verdict]').waitFor();
    await shot('verify');
    await page.setInputFiles('#verify-file', tamperedFile);
    await page.locator('#verify-result [data-verdict=failed]').waitFor();
    await shot('verify-failed');
    if (errors.length) throw new Error(`the console logged errors:\n${errors.join('\n')}`);
  } finally {
    await browser.close();
    await svc.stop();
    rmSync(files, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.stderr.write('screenshots written to docs/screenshots/\n'),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
