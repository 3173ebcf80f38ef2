import { IdPrefix, encodeIdText } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { formatIdentityDocument } from '@postern/identity';
import { loadIdentity, readApiAccess } from '@postern/runtime';
import type { NodeClient } from '../node-client.ts';
import { printJson } from '../output.ts';

/**
 * `id`: who you are. Works without a running node (from the identity file); with one running,
 * `--export` gives the contact card (document and addresses) instead of the bare document.
 */
export async function showId(
  crypto: CryptoProvider,
  dataDir: string,
  open: () => NodeClient,
  options: { export?: boolean; json?: boolean },
): Promise<void> {
  const identity = loadIdentity(crypto, dataDir);
  const running = isRunning(dataDir);
  if (options.export) {
    if (running) return void process.stdout.write((await open().get<{ card: string }>('/v1/id')).card);
    return void process.stdout.write(formatIdentityDocument(identity.document));
  }
  const id = encodeIdText(IdPrefix.messaging, identity.messagingId);
  if (options.json) {
    const base = { label: identity.document.label, messagingId: id, seq: identity.document.seq };
    if (!running) return printJson(base);
    const live = await open().get<{ node: string; addresses: string[] }>('/v1/id');
    return printJson({ ...base, node: live.node, addresses: live.addresses });
  }
  console.log(`${identity.document.label}  ${id}`);
}

interface StatusJson {
  messagingId: string;
  node: string;
  addresses: string[];
  peers: number;
  dht: { routingTable: number; networkEstimate: number };
  contacts: number;
  outbox: { pending: number };
  inbox: number;
  replicants: number;
  duties: { serving: number; requests: number; held: number };
  relays: string[];
}

export async function status(client: NodeClient, options: { json?: boolean }): Promise<void> {
  const s = await client.get<StatusJson>('/v1/status');
  if (options.json) return printJson(s);
  console.log(`node ${s.node}, listening on ${s.addresses.join(' ')}`);
  console.log(`peers connected:   ${s.peers}`);
  console.log(
    `DHT:               ${s.dht.routingTable} nodes known, network of about ${s.dht.networkEstimate}`,
  );
  console.log(`contacts:          ${s.contacts}`);
  console.log(`outbox:            ${s.outbox.pending} message(s) not yet delivered`);
  console.log(`inbox:             ${s.inbox} message(s)`);
  console.log(`your replicants:   ${s.replicants}`);
  console.log(
    `replicant duties:  serving ${s.duties.serving}, ${s.duties.requests} request(s) waiting, ${s.duties.held} message(s) held`,
  );
  console.log(`your relays:       ${s.relays.length === 0 ? 'none' : s.relays.join(' ')}`);
}

function isRunning(dataDir: string): boolean {
  try {
    readApiAccess(dataDir);
    return true;
  } catch {
    return false;
  }
}
