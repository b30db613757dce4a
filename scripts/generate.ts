// npm run generate: rewrites every generated file (schema types, golden files, the examples in
// docs/protocol.md). CI runs it and fails if git sees a difference: generated files are never stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSchemaModule } from './generate-types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  console.log(`wrote ${path}`);
}

write('src/generated/schemas.ts', generateSchemaModule(join(root, 'schemas')));

import { buildGolden } from './golden.js';
import { rmSync } from 'node:fs';
import { renderDocs } from './docs.js';

rmSync(join(root, 'test/golden'), { recursive: true, force: true });
const golden = buildGolden();
for (const [name, text] of golden) write(`test/golden/${name}`, text);
write('docs/protocol.md', renderDocs(join(root, 'docs/protocol.md'), golden));
