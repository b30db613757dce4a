// The tree of a block's links, built with merkletreejs configured to be RFC 6962 §2.1 exactly:
// leaves are pre-hashed SHA-256(0x00 || linkHash), the node function prepends 0x01, and an odd node
// is carried up unchanged (duplicateOdd: false) - which reproduces the RFC's left-balanced split.
// merkletreejs builds and produces audit paths; it never verifies: its verify() binds neither the
// leaf index nor the tree size. Verification is rfc6962.ts.
import { MerkleTree } from 'merkletreejs';
import { concatBytes } from './bytes.js';
import { sha256 } from './hash.js';
import { EMPTY_ROOT } from './rfc6962.js';

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export class LinkTree {
  readonly size: number;
  readonly root: Uint8Array;
  readonly #tree: MerkleTree | undefined;

  /**
   * @param linkHashes the 32-byte link hashes, in leaf order
   * @param hash SHA-256: core's portable one by default; the sealer passes node:crypto's (a block's
   *   tree is built on the request thread, and noble's hashing made it a 10–25 ms pause per block)
   */
  constructor(linkHashes: readonly Uint8Array[], hash: (data: Uint8Array) => Uint8Array = sha256) {
    this.size = linkHashes.length;
    if (this.size === 0) {
      this.root = EMPTY_ROOT;
      return;
    }
    const leaves = linkHashes.map((h) => hash(concatBytes(LEAF_PREFIX, h)));
    const nodeOfPair = (pair: unknown): Uint8Array => hash(concatBytes(NODE_PREFIX, pair as Uint8Array));
    this.#tree = new MerkleTree(leaves as never[], nodeOfPair as never, {
      hashLeaves: false,
      duplicateOdd: false,
      sortPairs: false,
      sortLeaves: false,
    });
    this.root = copy(this.#tree.getRoot());
  }

  /** The RFC 6962 audit path of leaf `index`: sibling hashes from the leaf up. */
  inclusionProof(index: number): Uint8Array[] {
    if (!this.#tree || !Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`leaf index ${index} outside a tree of ${this.size}`);
    }
    const leaf = this.#tree.getLeaf(index);
    // Passing the index matters: without it merkletreejs scans every leaf.
    return this.#tree.getProof(leaf, index).map((step) => copy(step.data));
  }

  /** Every level of the tree, leaves first: what a store keeps so proofs need no rebuild. */
  levels(): Uint8Array[][] {
    if (!this.#tree) return [];
    return this.#tree.getLayers().map((layer) => layer.map(copy));
  }
}
