// One lookup path driven against a synthetic network of real routing tables, answers delivered at
// once: it finds the true k closest nodes, keeps at most α in flight, routes around dead nodes,
// and disjoint paths never ask the same node.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NodeId, Rng, toHex } from '@postern/core';
import {
  type Claims,
  type Contact,
  DEFAULT_KADEMLIA_LIMITS,
  LookupPath,
  RoutingTable,
  compareDistance,
} from '../src/index.ts';
import { T0, contact, randomId } from './helpers.ts';

const limits = DEFAULT_KADEMLIA_LIMITS;
const k = limits.bucketSize;

/** N nodes, each with a routing table that has seen every other node (as a long-running network would). */
function network(n: number, seed: string): { ids: NodeId[]; tables: Map<string, RoutingTable> } {
  const rng = Rng.fromSeed(seed);
  const ids = Array.from({ length: n }, () => randomId(rng));
  const tables = new Map<string, RoutingTable>();
  for (const id of ids) {
    const table = new RoutingTable(id, limits, T0);
    for (const other of ids) table.observe(contact(other), T0);
    tables.set(toHex(id), table);
  }
  return { ids, tables };
}

const truth = (ids: NodeId[], target: Uint8Array, count = k) =>
  [...ids]
    .sort((a, b) => compareDistance(target, a, b))
    .slice(0, count)
    .map(toHex);

/** Runs paths to completion; dead nodes fail. Returns what each path asked. */
function drive(
  paths: LookupPath[],
  tables: Map<string, RoutingTable>,
  dead: Set<string> = new Set(),
  onAsk: (path: LookupPath) => void = () => undefined,
): string[][] {
  const asked = paths.map(() => [] as string[]);
  for (let round = 0; round < 10_000 && !paths.every((p) => p.done); round++) {
    paths.forEach((path, i) => {
      for (const c of path.next()) {
        asked[i]?.push(toHex(c.id));
        onAsk(path);
        const key = toHex(c.id);
        if (dead.has(key)) path.failed(c.id);
        else path.answered(c.id, (tables.get(key) as RoutingTable).closest(path.target, k));
      }
    });
  }
  assert.ok(
    paths.every((p) => p.done),
    'the lookup finished',
  );
  return asked;
}

describe('lookup path', () => {
  const { ids, tables } = network(500, 'lookup-net');
  const rng = Rng.fromSeed('lookup-targets');

  it('finds exactly the k closest nodes to random targets', () => {
    for (let q = 0; q < 40; q++) {
      const self = ids[rng.int(ids.length)] as NodeId;
      const target = randomId(rng);
      const seeds = (tables.get(toHex(self)) as RoutingTable).closest(target, k);
      const path = new LookupPath({ target, self, seeds, claims: new Map(), limits });
      drive([path], tables);
      const expected = truth(
        ids.filter((id) => toHex(id) !== toHex(self)),
        target,
      );
      assert.deepEqual(
        path.closest().map((c) => toHex(c.id)),
        expected,
      );
    }
  });

  it('has at most α requests in flight until the α closest have answered', () => {
    const self = ids[0] as NodeId;
    const target = randomId(rng);
    const path = new LookupPath({
      target,
      self,
      seeds: (tables.get(toHex(self)) as RoutingTable).closest(target, k),
      claims: new Map(),
      limits,
    });
    let most = 0;
    // Answer one request per step, so several are outstanding at once.
    const inFlight: Contact[] = path.next();
    assert.equal(inFlight.length, limits.alpha, 'α at first, though k candidates wait');
    for (let step = 0; step < 10_000 && !path.done; step++) {
      inFlight.push(...path.next());
      most = Math.max(most, path.inFlight);
      const c = inFlight.shift();
      if (c) path.answered(c.id, (tables.get(toHex(c.id)) as RoutingTable).closest(target, k));
    }
    assert.ok(path.done);
    assert.ok(
      most <= k && most > limits.alpha,
      `at most ${most} in flight: α, then the rest of the k closest`,
    );
  });

  it('routes around dead nodes: only live ones in the result, all of the k closest once tables dropped the dead', () => {
    const dead = new Set(ids.filter(() => rng.float() < 0.2).map(toHex));
    const live = ids.filter((id) => !dead.has(toHex(id)));
    // Tables that saw the dead fail (pingFailed) no longer list them.
    const healed = new Map<string, RoutingTable>();
    for (const id of live) {
      const table = new RoutingTable(id, limits, T0);
      for (const other of live) table.observe(contact(other), T0);
      healed.set(toHex(id), table);
    }
    let staleOverlap = 0;
    for (let q = 0; q < 20; q++) {
      const self = live[rng.int(live.length)] as NodeId;
      const target = randomId(rng);
      const expected = truth(
        live.filter((id) => toHex(id) !== toHex(self)),
        target,
      );
      for (const [world, exact] of [
        [tables, false],
        [healed, true],
      ] as const) {
        const seeds = (world.get(toHex(self)) as RoutingTable).closest(target, k);
        const path = new LookupPath({ target, self, seeds, claims: new Map(), limits });
        drive([path], world, dead);
        const got = path.closest().map((c) => toHex(c.id));
        assert.ok(got.every((id) => !dead.has(id)));
        assert.equal(got.length, k);
        if (exact) assert.deepEqual(got, expected);
        else staleOverlap += got.filter((id) => expected.includes(id)).length;
      }
    }
    // With stale tables, answers list dead nodes among their k, pushing some live ones out of reach.
    assert.ok(staleOverlap >= 0.8 * 20 * k, `stale tables: ${staleOverlap} of ${20 * k} found`);
  });

  it('keeps disjoint paths apart: no node is asked on two paths', () => {
    const self = ids[7] as NodeId;
    const target = randomId(rng);
    const seeds = (tables.get(toHex(self)) as RoutingTable).closest(target, k);
    const claims: Claims = new Map();
    const paths = [0, 1, 2, 3].map(
      (p) => new LookupPath({ target, self, seeds: seeds.filter((_, i) => i % 4 === p), claims, limits }),
    );
    const asked = drive(paths, tables);
    const all = asked.flat();
    assert.equal(new Set(all).size, all.length);
    assert.ok(asked.every((a) => a.length > 0));
  });

  it('drops what only a liar named once its made-up contacts fail, and still finds the k closest', () => {
    const liars = new Set(ids.filter(() => rng.float() < 0.1).map(toHex));
    let liarAnswers = 0;
    let fakesAsked = 0;
    for (let q = 0; q < 20; q++) {
      const self = ids.find((id) => !liars.has(toHex(id)) && rng.float() < 0.1) as NodeId;
      const target = randomId(rng);
      const fakes = new Set<string>();
      const path = new LookupPath({
        target,
        self,
        seeds: (tables.get(toHex(self)) as RoutingTable).closest(target, k),
        claims: new Map(),
        limits,
      });
      for (let round = 0; round < 10_000 && !path.done; round++) {
        for (const c of path.next()) {
          const key = toHex(c.id);
          if (fakes.has(key)) {
            fakesAsked++;
            path.failed(c.id);
          } else if (liars.has(key)) {
            liarAnswers++;
            // k made-up ids sharing the target's first 16 bits: closer-looking than any real node.
            const lies = Array.from({ length: k }, () => {
              const id = randomId(rng);
              id.set(target.subarray(0, 2));
              fakes.add(toHex(id));
              return contact(id);
            });
            path.answered(c.id, lies);
          } else {
            path.answered(c.id, (tables.get(key) as RoutingTable).closest(target, k));
          }
        }
      }
      assert.ok(path.done);
      assert.deepEqual(
        path.closest().map((c) => toHex(c.id)),
        truth(
          ids.filter((id) => toHex(id) !== toHex(self)),
          target,
        ),
      );
    }
    assert.ok(liarAnswers > 10, `${liarAnswers} liars answered`);
    // Each liar's list is dropped after its first α fakes time out together.
    assert.ok(
      fakesAsked <= limits.alpha * liarAnswers,
      `${fakesAsked} made-up contacts asked for ${liarAnswers} lying answers`,
    );
  });

  it('ignores answers from nodes it did not ask, and keeps its candidate list bounded', () => {
    const self = ids[3] as NodeId;
    const target = randomId(rng);
    const path = new LookupPath({ target, self, seeds: [], claims: new Map(), limits });
    const stranger = randomId(rng);
    path.answered(
      stranger,
      ids.slice(0, 200).map((id) => contact(id)),
    );
    assert.ok(path.done, 'nothing was added by an unasked node');
    const seeded = new LookupPath({
      target,
      self,
      seeds: ids.slice(0, 300).map((id) => contact(id)),
      claims: new Map(),
      limits,
    });
    const asked = seeded.next();
    assert.equal(asked.length, limits.alpha);
    // Whatever is added, the closest waiting candidates are within the bound.
    seeded.answered(
      asked[0]?.id as NodeId,
      ids.slice(300, 500).map((id) => contact(id)),
    );
    for (const c of asked.slice(1))
      seeded.answered(c.id, (tables.get(toHex(c.id)) as RoutingTable).closest(target, k));
    drive([seeded], tables);
    assert.equal(seeded.closest().length, k);
  });
});
