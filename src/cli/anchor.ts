// `pop anchor status`: what the service's anchorer is doing, and whether it needs attention.
import { api } from './client.js';
import { EXIT } from './exit.js';

interface AnchorRecord {
  blockHeight: number;
  txid: string;
  status: string;
  bitcoinBlock: { hash: string; height: number } | null;
  confirmedAt: string | null;
  broadcastAt: string | null;
}

export async function anchorStatus(opts: { json?: boolean }): Promise<number> {
  const { body } = await api<{
    enabled: boolean; network?: string; address?: string; state: string; detail?: string | null;
    counts: Record<string, number>; lastConfirmed: AnchorRecord | null; inFlight: AnchorRecord | null;
  }>('GET', '/v1/anchors/status');
  if (opts.json) process.stdout.write(JSON.stringify(body, null, 2) + '\n');
  else if (!body.enabled) process.stdout.write('anchoring is off (set POP_ANCHOR on the service)\n');
  else {
    const lines = [
      `anchoring to Bitcoin ${body.network} from ${body.address}: ${body.state}${body.detail ? ` (${body.detail})` : ''}`,
      `  anchors: ${Object.entries(body.counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'none yet'}`,
      body.lastConfirmed
        ? `  last confirmed: block ${body.lastConfirmed.blockHeight} in Bitcoin block ${body.lastConfirmed.bitcoinBlock?.height} (tx ${body.lastConfirmed.txid})`
        : '  last confirmed: none yet',
      body.inFlight ? `  in flight: block ${body.inFlight.blockHeight}, tx ${body.inFlight.txid} (${body.inFlight.status})` : '  in flight: none',
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  // Needs attention: a state other than ok/waiting is worth a non-zero exit for monitoring scripts.
  return !body.enabled || body.state === 'ok' || body.state === 'waiting' ? EXIT.ok : EXIT.refused;
}
