import { type Rng, UsageError, toHex, utf8 } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import {
  type RunnableScenario,
  type ScenarioContext,
  type ScenarioOptions,
  defineScenario,
  exponential,
} from '@postern/sim';
import { DEFAULT_KADEMLIA_LIMITS } from './limits.ts';
import type { KademliaEvent, KademliaMachine } from './machine.ts';
import { type SignedRecord, checkRecord, recordKey, signRecord } from './records.ts';
import { SIM_WALL_EPOCH_MS, kademliaProgram, simContact } from './sim-program.ts';

/**
 * `npm run sim -- kademlia`: nodes join through node 0, signed records are stored (each later
 * replaced by a second version) while a fifth of the nodes churn over a lossy network; after the
 * world heals, every record must be read back, newest version, from random nodes. Invariant: no
 * read ever returns a record that fails the reader's checks or was never stored.
 */
export interface KademliaScenarioOptions extends ScenarioOptions {
  readonly records: number;
  readonly churnFraction: number;
}

type Ctx = ScenarioContext<KademliaEvent, KademliaMachine, KademliaScenarioOptions>;

/** What one run stored and read, kept beside its world. */
interface RunState {
  readonly records: { key: Uint8Array; versions: SignedRecord[] }[];
  /** Records (by index) read back with their newest version after the heal. */
  readonly found: Set<number>;
  /** Reads in flight after the heal, by reader and query id. */
  readonly reading: Map<string, number>;
  /** Reads that returned something the invariant refuses, described. */
  readonly bad: string[];
}

const runs = new WeakMap<object, RunState>();
const crypto = createSodiumProvider();
const JOIN_EVERY_MS = 20;
const HOUR = 3_600_000;

export const kademliaScenario: RunnableScenario = defineScenario({
  name: 'kademlia',
  summary:
    'DHT: joins, signed records stored twice, 20 % churn and 1 % loss; every record read back after the heal',
  options: (_rng: Rng, request): KademliaScenarioOptions => {
    const nodes = request.nodes ?? 200;
    if (!(Number.isSafeInteger(nodes) && nodes >= 25)) {
      throw new UsageError('SIM_BAD_NODES', `the kademlia scenario needs at least 25 nodes, got ${nodes}`);
    }
    return {
      nodes,
      records: 40,
      churnFraction: 0.2,
      faultMs: nodes * JOIN_EVERY_MS + 180_000,
      convergeWithinMs: 120_000,
      checkEveryMs: 5_000,
      network: { loss: 0.01 },
      tolerate: { lost: true },
    };
  },
  // Republishing every minute, so that three minutes of churn see several rounds.
  program: () => kademliaProgram({ republishIntervalMs: 60_000 }),
  workload: (ctx: Ctx) => {
    const { world, options, workloadRng: rng } = ctx;
    const state: RunState = {
      records: makeRecords(options.records, ctx.seed),
      found: new Set(),
      reading: new Map(),
      bad: [],
    };
    runs.set(world, state);
    world.observe({ event: (node, event) => onEvent(state, node, event) });
    const first = simContact(world.id(0));
    for (let i = 1; i < options.nodes; i++) {
      world.at(i * JOIN_EVERY_MS, () => world.act(i, (m, now) => void m.bootstrap([first], now)));
    }
    const joined = options.nodes * JOIN_EVERY_MS + 10_000;
    state.records.forEach((record, r) => {
      record.versions.forEach((version, v) => {
        const writer = 1 + rng.int(options.nodes - 1);
        world.at(joined + v * 30_000 + r * 100, () =>
          world.act(writer, (m, now) => void m.storeRecord(version, now)),
        );
      });
    });
    // A fifth of the nodes (never node 0, the bootstrap) go up and down once the records are out.
    const churning = Array.from({ length: options.nodes - 1 }, (_, i) => i + 1).filter(
      () => rng.float() < options.churnFraction,
    );
    world.at(joined + 60_000, () =>
      world.churn(churning, exponential(60_000), exponential(30_000), rng.fork('churn')),
    );
  },
  onHeal: (ctx: Ctx) => {
    const state = runs.get(ctx.world) as RunState;
    // Restarted nodes rejoin first; then reads, again every few seconds for what is still missing.
    ctx.world.after(10_000, () => readMissing(ctx, state));
    ctx.world.every(10_000, () => readMissing(ctx, state));
  },
  invariants: [
    {
      name: 'reads return only valid records that were stored',
      check: ({ world }: Ctx) => {
        const bad = runs.get(world)?.bad ?? [];
        return bad.length === 0 ? undefined : `${bad.length} bad reads, first: ${bad[0]}`;
      },
    },
  ],
  liveness: [
    {
      name: 'every record is read back, newest version',
      check: ({ world, options }: Ctx) => {
        const found = runs.get(world)?.found.size ?? 0;
        return found === options.records ? undefined : `${options.records - found} records not read back yet`;
      },
    },
  ],
});

function makeRecords(count: number, seed: number): RunState['records'] {
  return Array.from({ length: count }, (_, r) => {
    const owner = crypto.ed25519KeyPairFromSeed(
      crypto.blake2b(utf8(`kademlia scenario ${seed} owner ${r}`), 32),
    );
    const sign = (seq: number) =>
      signRecord(
        crypto,
        owner.secretKey,
        {
          salt: utf8('identity'),
          seq,
          value: utf8(`record ${r} v${seq}`),
          expiresAtMs: SIM_WALL_EPOCH_MS + 10 * HOUR,
        },
        DEFAULT_KADEMLIA_LIMITS,
      );
    return { key: recordKey(crypto, owner.publicKey, utf8('identity')), versions: [sign(1), sign(2)] };
  });
}

/** One read of each record not yet found and not being read, from a random live node. */
function readMissing(ctx: Ctx, state: RunState): void {
  const { world, workloadRng: rng } = ctx;
  const live = Array.from({ length: world.nodeCount }, (_, i) => i).filter((i) => world.isUp(i));
  const busy = new Set(state.reading.values());
  state.records.forEach((record, r) => {
    if (state.found.has(r) || busy.has(r) || live.length === 0) return;
    const reader = live[rng.int(live.length)] as number;
    world.act(reader, (m, now) => {
      const query = m.findValue(record.key, now);
      state.reading.set(`${reader}/${query}`, r);
    });
  });
}

function onEvent(state: RunState, node: number, event: KademliaEvent): void {
  if (event.type !== 'value-found') return;
  const index = state.records.findIndex((r) => toHex(r.key) === toHex(event.key));
  const record = event.record;
  if (record !== undefined && !isStored(state, index, record)) {
    state.bad.push(`node ${node} read a record for ${toHex(event.key).slice(0, 8)} that was never stored`);
  }
  const reading = `${node}/${event.query}`;
  if (!state.reading.has(reading)) return;
  state.reading.delete(reading);
  if (record?.seq === 2) state.found.add(index);
}

/** Valid for its key, and byte for byte one of the versions the workload stored. */
function isStored(state: RunState, index: number, record: SignedRecord): boolean {
  const stored = state.records[index];
  if (stored === undefined) return false;
  const checked = checkRecord(crypto, record, {
    key: stored.key,
    nowMs: SIM_WALL_EPOCH_MS,
    limits: DEFAULT_KADEMLIA_LIMITS,
  });
  return (
    checked.ok &&
    stored.versions.some((v) => v.seq === record.seq && toHex(v.signature) === toHex(record.signature))
  );
}
