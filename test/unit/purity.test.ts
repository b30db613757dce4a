// src/core is pure (house style §1): it imports only itself and its declared pure dependencies, and
// never touches the process, the file system, the network or the clock. The offline verifier and
// the browser console depend on it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const coreDir = join(fileURLToPath(import.meta.url), '../../../src/core');
const PURE_PACKAGES = ['canonicalize', '@noble/hashes', '@noble/curves', 'merkletreejs', 'ajv', 're2js']; // re2js: RE2 in plain JS (schema-bounds.ts)
const ALLOWED_OUTSIDE = ['../generated/schemas.js']; // generated from schemas/: data and types only
const FORBIDDEN = [
  /\bprocess\s*[.[]/,
  /\bBuffer\b/,
  /\bDate\b/,
  /\bperformance\b/,
  /\bset(?:Timeout|Interval|Immediate)\b/,
  /\brequire\s*\(/,
  /\bfetch\s*\(/,
  /\bWebSocket\b/,
  /\bXMLHttpRequest\b/,
  /\bimport\s*\(/,
  /\bMath\.random\b/,
  /\bcrypto\.getRandomValues\b/,
  /\bglobalThis\b/,
];

const files = readdirSync(coreDir).filter((f) => f.endsWith('.ts'));
const stripComments = (src: string) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

export function importsOf(src: string): string[] {
  return [...src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

describe('src/core is pure', () => {
  test('there are core files to check', () => expect(files.length).toBeGreaterThan(10));

  test.each(files)('%s imports only core and pure packages', (file) => {
    for (const spec of importsOf(readFileSync(join(coreDir, file), 'utf8'))) {
      const ok =
        (spec.startsWith('./') && !spec.includes('..')) ||
        ALLOWED_OUTSIDE.includes(spec) ||
        PURE_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`));
      expect(ok, `${file} imports ${spec}`).toBe(true);
    }
  });

  test.each(files)('%s touches no process, file system, network, randomness or clock', (file) => {
    const src = stripComments(readFileSync(join(coreDir, file), 'utf8'));
    for (const pattern of FORBIDDEN) expect(src, `${file} matches ${pattern}`).not.toMatch(pattern);
  });

  test('the checker itself catches an impure file', () => {
    expect(importsOf("import { readFileSync } from 'node:fs';")).toEqual(['node:fs']);
    const impure = "const t = Date.now(); process.env.X; import('x')";
    expect(FORBIDDEN.filter((p) => p.test(impure)).length).toBeGreaterThanOrEqual(3);
  });
});
