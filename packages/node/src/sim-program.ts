import { type Millis, type NodeId, Rng, toHex } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { type Identity, createIdentity } from '@postern/identity';
import { type Contact, type KademliaLimits, SIM_WALL_EPOCH_MS, simContact } from '@postern/kademlia';
import type { ReplicantLimits } from '@postern/replicant';
import type { NodeContext, NodeProgram, StoreWrite } from '@postern/sim';
import { NODE_TABLES, type NodeEvent, type NodeRow, type NodeTable, PosternNode } from './machine.ts';

const TABLE_NAMES: ReadonlySet<string> = new Set<string>(NODE_TABLES);

/**
 * Postern nodes in the simulator (packages/sim): the production PosternNode, its persist events
 * written to the node's store (so a crash keeps exactly what it persisted), its rows handed back
 * at restart. A user's identity is derived from its node id, so it is the same in every incarnation
 * (its document's later versions come back from the store). The first message from a peer stands for
 * its link coming up. A first incarnation waits for the scenario to `start` it; a restart starts
 * at once, bootstrapping through node 0.
 */
export function posternProgram(
  limits: { kademlia?: Partial<KademliaLimits>; replicant?: Partial<ReplicantLimits> } = {},
): NodeProgram<NodeEvent, PosternNode> {
  return {
    create: (node) => {
      const rng = node.rng.fork('crypto');
      const machine = new PosternNode({
        crypto: createSodiumProvider({ random: (n) => rng.bytes(n) }),
        identity: simIdentity(node.id),
        node: node.id,
        rng: node.rng.fork('node'),
        wallClockOffsetMs: SIM_WALL_EPOCH_MS,
        now: node.now,
        rows: rowsOf(node),
        ...limits,
      });
      machine.setAddresses([simContact(node.id).addresses[0] as string], node.now);
      if (node.incarnation > 0) machine.start(simSeeds(node.index, node.directory.id(0)), node.now);
      const receive = machine.handleReceive.bind(machine);
      machine.handleReceive = (from: NodeId, bytes: Uint8Array, now: Millis) => {
        if (machine.kad.addressesOf(from) === undefined) machine.peerConnected(simContact(from), now);
        receive(from, bytes, now);
      };
      return machine;
    },
    persist: (event: NodeEvent): StoreWrite | undefined =>
      event.type === 'persist' ? { key: `${event.table}/${event.key}`, value: event.value } : undefined,
  };
}

/** The bootstrap list of simulated node `index`: node 0 (`first`), unless it is node 0. */
export function simSeeds(index: number, first: NodeId): Contact[] {
  return index === 0 ? [] : [simContact(first)];
}

const identities = new Map<string, Identity>();

/** The identity of the user on a simulated node: from its node id alone, the same in every run and incarnation. */
export function simIdentity(id: NodeId): Identity {
  const hex = toHex(id);
  let identity = identities.get(hex);
  if (identity === undefined) {
    const rng = Rng.fromSeed(`identity/${hex}`);
    const crypto = createSodiumProvider({ random: (n) => rng.bytes(n) });
    identity = createIdentity(crypto, { label: `user-${hex.slice(0, 8)}` });
    if (identities.size > 100_000) identities.clear();
    identities.set(hex, identity);
  }
  return identity;
}

function rowsOf(node: NodeContext): NodeRow[] {
  const rows: NodeRow[] = [];
  for (const [key, value] of node.store) {
    const slash = key.indexOf('/');
    const table = key.slice(0, slash);
    if (TABLE_NAMES.has(table)) rows.push({ table: table as NodeTable, key: key.slice(slash + 1), value });
  }
  return rows;
}
