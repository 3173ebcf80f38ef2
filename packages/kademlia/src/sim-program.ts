import { type Millis, type NodeId, toHex } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import type { NodeProgram } from '@postern/sim';
import type { KademliaLimits } from './limits.ts';
import { type KademliaEvent, KademliaMachine } from './machine.ts';
import type { Contact } from './routing-table.ts';

/** The wall clock of simulated nodes: their monotonic `now` plus this fixed epoch. */
export const SIM_WALL_EPOCH_MS = 1_790_000_000_000;

/** The placeholder address a simulated node is known by (the simulator routes by node id). */
export function simContact(id: NodeId): Contact {
  return { id, addresses: [`sim://${toHex(id).slice(0, 16)}`] };
}

/**
 * Kademlia machines for the simulator (packages/sim): one per node, crypto from the node's own
 * random stream. The first message from a peer stands for its link coming up (the runtime's
 * `peerConnected`). A node that restarts comes back empty (the machine persists nothing) and
 * bootstraps again through node 0.
 */
export function kademliaProgram(
  limits: Partial<KademliaLimits> = {},
): NodeProgram<KademliaEvent, KademliaMachine> {
  return {
    create: (node) => {
      const rng = node.rng.fork('crypto');
      const machine = new KademliaMachine({
        self: node.id,
        crypto: createSodiumProvider({ random: (n) => rng.bytes(n) }),
        rng: node.rng.fork('kad'),
        wallClockOffsetMs: SIM_WALL_EPOCH_MS,
        limits,
        now: node.now,
      });
      if (node.incarnation > 0) machine.bootstrap([simContact(node.directory.id(0))], node.now);
      const receive = machine.handleReceive.bind(machine);
      machine.handleReceive = (from: NodeId, bytes: Uint8Array, now: Millis) => {
        if (machine.addressesOf(from) === undefined) machine.peerConnected(simContact(from), now);
        receive(from, bytes, now);
      };
      return machine;
    },
  };
}
