// Fills the golden examples into docs/protocol.md. A block
//   <!-- golden: FILE PATH -->
//   ...anything...
//   <!-- /golden -->
// is replaced with FILE's value at PATH (dot-separated keys and indices; empty PATH = whole file) as
// a fenced block: strings verbatim, anything else as pretty JSON.
import { readFileSync } from 'node:fs';

const BLOCK = /<!-- golden: (\S+)(?: (\S+))? -->\n[\s\S]*?<!-- \/golden -->/g;

export function renderDocs(path: string, golden: Map<string, string>): string {
  const text = readFileSync(path, 'utf8');
  return text.replace(BLOCK, (_, file: string, at: string | undefined) => {
    const source = golden.get(file);
    if (source === undefined) throw new Error(`docs refer to golden file ${file}, which does not exist`);
    let value: unknown = JSON.parse(source);
    for (const key of at ? at.split('.') : []) {
      if (value === null || typeof value !== 'object' || !(key in value)) {
        throw new Error(`docs refer to ${file} ${at}, which does not exist`);
      }
      value = (value as Record<string, unknown>)[key];
    }
    const body = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    const lang = typeof value === 'string' ? 'text' : 'json';
    return `<!-- golden: ${file}${at ? ` ${at}` : ''} -->\n\`\`\`${lang}\n${body}\n\`\`\`\n<!-- /golden -->`;
  });
}
