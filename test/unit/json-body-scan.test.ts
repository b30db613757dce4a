// The strict scan jumps over strings with native searches and remembers where the next backslash is,
// which is easy to get subtly wrong. Here it is checked against a reference that decodes every string one
// character at a time and descends the JSON recursively: same verdict, same message, on texts full of
// escapes, duplicate names (some spelled differently), deep nesting and crowded objects.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BodyError, MAX_DEPTH, MAX_MEMBERS, parseStrictJson } from '../../src/http/json-body.js';

/** What parseStrictJson should decide, written for clarity rather than speed. */
function referenceParse(text: string, maxDepth = MAX_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BodyError(`the body is not JSON: ${(e as Error).message}`);
  }
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const string = (): string => {
    let out = '';
    for (i++; text[i] !== '"'; ) {
      if (text[i] !== '\\') out += text[i++];
      else if (text[i + 1] === 'u') {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        out += ({ '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[text[i + 1]!];
        i += 2;
      }
    }
    i++;
    if (out.includes('\u0000')) throw new BodyError('strings in the body may not contain U+0000');
    for (let k = 0; k < out.length; k++) {
      const high = out.charCodeAt(k) >= 0xd800 && out.charCodeAt(k) <= 0xdbff;
      const low = (at: number) => out.charCodeAt(at) >= 0xdc00 && out.charCodeAt(at) <= 0xdfff;
      if (high && low(k + 1)) k++;
      else if (high || low(k)) throw new BodyError('strings in the body may not contain lone surrogates');
    }
    return out;
  };
  const element = (depth: number): void => {
    skipSpace();
    const c = text[i];
    if (c === '"') string();
    else if (c === '{' || c === '[') {
      if (depth >= maxDepth) throw new BodyError(`the body is nested deeper than ${maxDepth} levels`);
      const names = new Set<string>();
      i++;
      skipSpace();
      if (text[i] === (c === '{' ? '}' : ']')) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          skipSpace();
          const name = string();
          if (names.size >= MAX_MEMBERS) throw new BodyError(`an object in the body has more than ${MAX_MEMBERS} members`);
          if (names.has(name)) throw new BodyError(`the body has the member name ${JSON.stringify(name.slice(0, 64))} twice in one object`);
          names.add(name);
          skipSpace();
          i++; // the colon
        }
        element(depth + 1);
        skipSpace();
        if (text[i++] !== ',') return; // the closing bracket
      }
    } else while (i < text.length && !',]} \t\n\r'.includes(text[i]!)) i++; // a number or a literal
  };
  element(0);
  return value;
}

function verdict(parse: (text: string, maxDepth?: number) => unknown, text: string, maxDepth?: number) {
  try {
    return { value: parse(text, maxDepth) };
  } catch (e) {
    return { error: e instanceof BodyError ? e.message : `not a BodyError: ${String(e)}` };
  }
}

// Characters chosen to trip a string scanner: quotes and backslashes (also several in a row, and last
// before the closing quote), the escapes that decide a verdict, surrogates paired and lone, structure
// look-alikes, and the letters of an escape without its backslash.
const CHARS = ['a', 'b', 'k', 'u', '0', 'd', '8', '"', '\\', '/', '\n', '\t', '\u0000', '\u001f', '{', '}', '[', ']', ',', ':', 'é', '€', '\u{1f600}', '\ud800', '\udbff', '\udc00', '\udfff'];

const hex4 = (unit: number, upper: boolean) => {
  const h = unit.toString(16).padStart(4, '0');
  return `\\u${upper ? h.toUpperCase() : h}`;
};

/** A JSON string literal for `s`, each code point spelled one of the ways JSON allows, picked by `pick`. */
function literal(s: string, pick: () => number): string {
  let out = '"';
  for (const ch of s) {
    const unit = ch.charCodeAt(0);
    const way = pick();
    const escaped = Array.from({ length: ch.length }, (_, k) => hex4(ch.charCodeAt(k), way % 2 === 1)).join('');
    if (unit >= 0xd800 && unit <= 0xdfff && ch.length === 1) out += escaped; // lone: strict UTF-8 decoding at the edge lets one in only escaped
    else if (ch === '"' || ch === '\\' || unit < 0x20) {
      const short = ({ '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t' } as Record<string, string>)[ch];
      out += short !== undefined && way % 3 !== 0 ? short : escaped;
    } else if (ch === '/' && way % 3 === 1) out += '\\/';
    else out += way % 4 === 3 ? escaped : ch;
  }
  return `${out}"`;
}

interface Node {
  kind: 'object' | 'array' | 'scalar';
  entries?: [string, Node][];
  items?: Node[];
  scalar?: string | number | boolean | null;
}

const text = fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 6 });
// Names from a small pool so that duplicates are common, next to arbitrary ones.
const name = fc.oneof(fc.constantFrom('a', 'b', 'k', 'a\u0000', 'é'), text);
const tree = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)).map((scalar): Node => ({ kind: 'scalar', scalar })),
    fc.array(fc.tuple(name, tie('node')), { maxLength: 5 }).map((entries): Node => ({ kind: 'object', entries })),
    fc.array(tie('node'), { maxLength: 4 }).map((items): Node => ({ kind: 'array', items })),
  ),
})).node;

/** Serialises with random spelling of strings and random whitespace between tokens. */
function render(node: Node, pick: () => number): string {
  const space = () => ['', '', ' ', '\n\t', '\r\n '][pick() % 5];
  if (node.kind === 'scalar') return typeof node.scalar === 'string' ? literal(node.scalar, pick) : JSON.stringify(node.scalar);
  if (node.kind === 'array') return `[${space()}${node.items!.map((n) => render(n, pick)).join(`${space()},${space()}`)}${space()}]`;
  return `{${space()}${node.entries!.map(([k, v]) => `${literal(k, pick)}${space()}:${space()}${render(v, pick)}`).join(`${space()},${space()}`)}${space()}}`;
}

/** Spelling choices as plain numbers, so that a counterexample prints as data. */
const picks = fc.array(fc.nat(), { minLength: 1, maxLength: 64 });
const picker = (xs: number[]) => {
  let n = 0;
  return () => xs[n++ % xs.length]!;
};

describe('the strict scan agrees with a character-by-character reference', () => {
  test('on generated texts with escapes, duplicate names and nesting', () => {
    fc.assert(
      fc.property(tree, picks, fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), (node, xs, maxDepth) => {
        const body = render(node, picker(xs));
        expect(verdict(parseStrictJson, body, maxDepth)).toEqual(verdict(referenceParse, body, maxDepth));
      }),
      { numRuns: 2000 },
    );
  });

  test('on nesting around MAX_DEPTH, with duplicates and bad strings before and after the deepest point', () => {
    const level = fc.oneof(fc.constant('[' as const), fc.record({ k: name, dup: fc.constantFrom('', ',"a":0', '"a":0,') }));
    fc.assert(
      fc.property(fc.array(level, { minLength: MAX_DEPTH - 3, maxLength: MAX_DEPTH + 3 }), text, picks, (levels, leaf, xs) => {
        const pick = picker(xs);
        let body = literal(leaf, pick);
        for (const l of [...levels].reverse()) {
          if (l === '[') body = `[${body}]`;
          else if (l.dup.startsWith(',')) body = `{${literal(l.k, pick)}:${body}${l.dup}}`;
          else body = `{${l.dup}${literal(l.k, pick)}:${body}}`;
        }
        expect(verdict(parseStrictJson, body)).toEqual(verdict(referenceParse, body));
      }),
      { numRuns: 300 },
    );
  });

  test('on objects around MAX_MEMBERS, with or without a duplicate', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_MEMBERS - 20, max: MAX_MEMBERS + 2 }), fc.option(fc.nat(), { nil: undefined }), picks, (count, dup, xs) => {
        const pick = picker(xs);
        const names = Array.from({ length: count }, (_, n) => `k${n}`);
        if (dup !== undefined) names.push(names[dup % count]!);
        const body = `{${names.map((k) => `${literal(k, pick)}:1`).join(',')}}`;
        expect(verdict(parseStrictJson, body)).toEqual(verdict(referenceParse, body));
      }),
      { numRuns: 60 },
    );
  });

  test('the generators reach every verdict', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(tree, picks, (node, xs) => {
        const outcome = verdict(referenceParse, render(node, picker(xs)), 3);
        seen.add('error' in outcome ? outcome.error!.replace(/".*"/, '""') : 'accepted');
      }),
      { numRuns: 2000 },
    );
    expect([...seen].sort()).toEqual([
      'accepted',
      'strings in the body may not contain U+0000',
      'strings in the body may not contain lone surrogates',
      'the body has the member name "" twice in one object',
      'the body is nested deeper than 3 levels',
    ]);
  });
});
