// The ledger's use-cases, wired over one pool. Routes call these and nothing else.
import { ApiKeys } from './api-keys.js';
import { Links } from './links.js';
import { Participants } from './participants.js';
import type { LedgerDeps } from './ports.js';
import { Processes } from './processes.js';
import { Proofs } from './proofs.js';
import { Disclosures } from './disclosures.js';
import { Bundles } from './bundles.js';
import { Queries } from './queries.js';

export { EventBus } from './events.js';

export interface Ledger {
  processes: Processes;
  participants: Participants;
  apiKeys: ApiKeys;
  links: Links;
  queries: Queries;
  proofs: Proofs;
  disclosures: Disclosures;
  bundles: Bundles;
  deps: LedgerDeps;
}

export function createLedger(deps: LedgerDeps): Ledger {
  const processes = new Processes(deps.pool);
  const queries = new Queries(deps.pool, deps.notary, deps.cipher);
  const proofs = new Proofs(deps.pool, deps.notary, queries);
  const disclosures = new Disclosures(deps.pool, deps.cipher, queries);
  return {
    processes,
    participants: new Participants(deps.pool, deps.now),
    apiKeys: new ApiKeys(deps.pool),
    links: new Links(deps, processes),
    queries,
    proofs,
    disclosures,
    bundles: new Bundles(deps.pool, deps.notary, queries, proofs, disclosures),
    deps,
  };
}
