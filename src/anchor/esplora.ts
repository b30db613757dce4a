// The only Bitcoin network client: Esplora's REST API (Blockstream's and mempool's explorers, or the
// local regtest network). Errors say which of three things happened: the endpoint could not be
// reached, it refused the request (with its text), or the thing does not exist.

export class EsploraError extends Error {
  readonly kind: 'unreachable' | 'rejected' | 'not-found';
  readonly status: number;
  constructor(kind: EsploraError['kind'], message: string, status = 0) {
    super(message);
    this.name = 'EsploraError';
    this.kind = kind;
    this.status = status;
  }
}

export interface Utxo {
  txid: string;
  vout: number;
  value: number;
  status: { confirmed: boolean; block_height?: number };
}

export interface TxStatus {
  confirmed: boolean;
  block_height?: number;
  block_hash?: string;
}

export class Esplora {
  readonly baseUrl: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, timeoutMs = 10_000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
  }

  async #request(method: 'GET' | 'POST', path: string, body?: string): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        ...(body !== undefined ? { body, headers: { 'content-type': 'text/plain' } } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new EsploraError('unreachable', `${this.baseUrl} unreachable: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 404) throw new EsploraError('not-found', `${path}: not found`, 404);
    if (!res.ok) throw new EsploraError(res.status >= 500 ? 'unreachable' : 'rejected', `${path}: ${res.status} ${text.slice(0, 300)}`, res.status);
    return text;
  }

  async #json<T>(path: string): Promise<T> {
    const text = await this.#request('GET', path);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new EsploraError('rejected', `${path}: not JSON`);
    }
  }

  utxos(address: string): Promise<Utxo[]> {
    return this.#json(`/address/${address}/utxo`);
  }
  /** Broadcasts a raw transaction; returns its txid. */
  async broadcast(hex: string): Promise<string> {
    return (await this.#request('POST', '/tx', hex)).trim();
  }
  txStatus(txid: string): Promise<TxStatus> {
    return this.#json(`/tx/${txid}/status`);
  }
  merkleProof(txid: string): Promise<{ block_height: number; merkle: string[]; pos: number }> {
    return this.#json(`/tx/${txid}/merkle-proof`);
  }
  async blockHeader(hash: string): Promise<string> {
    return (await this.#request('GET', `/block/${hash}/header`)).trim();
  }
  blockStatus(hash: string): Promise<{ in_best_chain: boolean; height?: number }> {
    return this.#json(`/block/${hash}/status`);
  }
  async tipHeight(): Promise<number> {
    const n = Number((await this.#request('GET', '/blocks/tip/height')).trim());
    if (!Number.isSafeInteger(n)) throw new EsploraError('rejected', 'tip height is not a number');
    return n;
  }
  feeEstimates(): Promise<Record<string, number>> {
    return this.#json('/fee-estimates');
  }
}
