// Builds the web console into dist/console: index.html plus content-hashed assets (the app, the
// verifier worker, the stylesheet, the icon). Run by `npm run build:console`, and so by `npm run
// build` and by `npm ci` through `prepare`. The console's own TypeScript is also compiled by tsc
// into dist/console/*.js; only index.html and assets/ are served (src/http/console.ts).
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = join(here, '../../dist/console');

export interface ConsoleBuild {
  outDir: string;
  /** Served name → bytes, for the report. */
  assets: Record<string, number>;
}

/** Names of the built entry points, written into index.html. */
interface Entries {
  app: string;
  worker: string;
  css: string;
  icon: string;
}

export async function buildConsole(outDir = DEFAULT_OUT_DIR): Promise<ConsoleBuild> {
  const assetsDir = join(outDir, 'assets');
  rmSync(assetsDir, { recursive: true, force: true });
  rmSync(join(outDir, 'index.html'), { force: true });
  mkdirSync(assetsDir, { recursive: true });

  const result = await esbuild.build({
    entryPoints: {
      app: join(here, 'main.ts'),
      'verify-worker': join(here, 'verify/worker.ts'),
      styles: join(here, 'styles.css'),
    },
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    bundle: true,
    // iife: plain scripts for the page and a classic worker, no module loader needed.
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });

  const entries: Partial<Entries> = {};
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const name = basename(file);
    if (meta.entryPoint.endsWith('main.ts')) entries.app = name;
    else if (meta.entryPoint.endsWith('worker.ts')) entries.worker = name;
    else if (meta.entryPoint.endsWith('styles.css')) entries.css = name;
  }
  const icon = `icon-${shortHash(readFileSync(join(here, 'icon.svg')))}.svg`;
  copyFileSync(join(here, 'icon.svg'), join(assetsDir, icon));
  entries.icon = icon;
  const { app, worker, css } = entries;
  if (!app || !worker || !css) throw new Error(`console build: missing an entry point (${JSON.stringify(entries)})`);

  const html = readFileSync(join(here, 'index.html'), 'utf8')
    .replaceAll('%APP%', `/assets/${app}`)
    .replaceAll('%WORKER%', `/assets/${worker}`)
    .replaceAll('%CSS%', `/assets/${css}`)
    .replaceAll('%ICON%', `/assets/${icon}`);
  writeFileSync(join(outDir, 'index.html'), html);

  const assets: Record<string, number> = { 'index.html': Buffer.byteLength(html) };
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.map')) assets[relative(outDir, file)] = meta.bytes;
  }
  assets[`assets/${icon}`] = readFileSync(join(assetsDir, icon)).length;
  return { outDir, assets };
}

function shortHash(bytes: Buffer): string {
  let h = 0x811c9dc5; // FNV-1a: only a cache-busting name, not a security property
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(36).toUpperCase().padStart(7, '0');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await buildConsole(process.argv[2] ?? DEFAULT_OUT_DIR);
  const total = Object.values(built.assets).reduce((a, b) => a + b, 0);
  for (const [name, bytes] of Object.entries(built.assets)) process.stdout.write(`  ${name.padEnd(40)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB\n`);
  process.stdout.write(`console built into ${relative(process.cwd(), built.outDir) || '.'} (${(total / 1024).toFixed(1)} KiB)\n`);
}
