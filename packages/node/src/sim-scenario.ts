import { type Rng, UsageError, fromUtf8, utf8 } from '@postern/core';
import { simContact } from '@postern/kademlia';
import {
  type RunnableScenario,
  type ScenarioContext,
  type ScenarioOptions,
  defineScenario,
  exponential,
  randomHalf,
  uniform,
} from '@postern/sim';
import type { NodeEvent, PosternNode } from './machine.ts';
import { posternProgram, simSeeds, simIdentity } from './sim-program.ts';

/**
 * `npm run sim -- messaging`: users with contacts and replicants send each other messages while
 * most of them are offline most of the time. Every user is a PosternNode (DHT + Replicant protocol)
 * persisting to its store; the workload crashes and restarts nodes (churn), partitions the network
 * and loses packets. Checked: the total queue (every acknowledged message delivered exactly once,
 * or reported expired to its sender), and after the heal, every sender sees "delivered".
 * `messaging-direct` is the same world with replicants disabled: what replicants buy.
 */
export interface MessagingScenarioOptions extends ScenarioOptions {
  /** Replicants per user (0: disabled, messages wait for sender and recipient to be online together). */
  readonly replicants: number;
  readonly contactsPerUser: number;
  /** Users whose node is up most of the time (a desktop, a home server); node 0 never goes down. */
  readonly alwaysOnFraction: number;
  readonly messagesPerUserPerDay: number;
  /** Messages are sent during this long after the setup; the faults go on for a TTL after. */
  readonly trafficMs: number;
  readonly ttlMs: number;
  /** Joins, contacts and nominations, all users online, before churn starts. */
  readonly setupMs: number;
}

type Ctx = ScenarioContext<NodeEvent, PosternNode, MessagingScenarioOptions>;

interface Sent {
  readonly sender: number;
  readonly recipient: number;
  readonly sentAt: number;
  readonly text: string;
  deliveredAt?: number;
}

/** One time a user came online with messages waiting for it. */
interface Episode {
  readonly user: number;
  readonly start: number;
  readonly waiting: Set<string>;
  doneAt?: number;
}

interface RunState {
  readonly sent: Map<string, Sent>;
  /** Per node: envelopes it acknowledged holding and has not yet handed over, dropped at expiry, or had refused. */
  readonly held: Map<number, Set<string>>;
  readonly senderKnows: Set<string>;
  readonly stored: Set<string>;
  readonly bad: string[];
  readonly episodes: Episode[];
  readonly current: Map<number, Episode>;
  readonly alwaysOn: Set<number>;
  readonly faultEndMs: number;
}

const runs = new WeakMap<object, RunState>();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const JOIN_EVERY_MS = 20;

export const messagingScenario: RunnableScenario = defineMessaging('messaging', 3);
export const messagingDirectScenario: RunnableScenario = defineMessaging('messaging-direct', 0);

function defineMessaging(name: string, replicants: number): RunnableScenario {
  return defineScenario({
    name,
    summary:
      replicants > 0
        ? `users with ${replicants} replicants each, hour-long sessions and offline gaps up to a day, loss, partitions, crashes`
        : 'the messaging world with replicants disabled: delivery only when both ends are online',
    options: (_rng: Rng, request): MessagingScenarioOptions => {
      const nodes = request.nodes ?? 1_000;
      if (!(Number.isSafeInteger(nodes) && nodes >= 12)) {
        throw new UsageError('SIM_BAD_NODES', `the ${name} scenario needs at least 12 users, got ${nodes}`);
      }
      const setupMs = nodes * JOIN_EVERY_MS + 10 * 60_000;
      return {
        nodes,
        replicants,
        contactsPerUser: 8,
        alwaysOnFraction: 0.2,
        messagesPerUserPerDay: 6,
        ttlMs: DAY,
        setupMs,
        trafficMs: 2 * DAY,
        faultMs: setupMs + 3 * DAY, // a day more than the traffic: every message's TTL runs out under faults
        convergeWithinMs: 6 * HOUR,
        checkEveryMs: 10 * 60_000,
        network: { loss: 0.01 },
      };
    },
    // Hourly DHT maintenance would dominate two simulated days; owners republish twice a day.
    program: () =>
      posternProgram({ kademlia: { republishIntervalMs: 12 * HOUR, bucketRefreshMs: 6 * HOUR } }),
    workload,
    invariants: [
      {
        name: 'a replicant keeps every envelope it acknowledged until it hands it over or it expires',
        check: ({ world }: Ctx) => {
          const state = runs.get(world) as RunState;
          for (const [node, keys] of state.held) {
            const holder = world.machine(node)?.messaging.holder;
            if (holder === undefined) continue; // down: checked again once it is back
            for (const key of keys) if (holder.get(key) === undefined) return `node ${node} lost ${key}`;
          }
          return undefined;
        },
      },
      {
        name: 'each message reaches its recipient’s application at most once, unaltered',
        check: ({ world, queue }: Ctx) => {
          const bad = runs.get(world)?.bad ?? [];
          if (bad.length > 0) return `${bad.length} bad deliveries, first: ${bad[0]}`;
          if (queue.duplicatedSoFar > 0) return `${queue.duplicatedSoFar} messages delivered twice`;
          return queue.unexpectedSoFar > 0 ? `${queue.unexpectedSoFar} unexpected deliveries` : undefined;
        },
      },
    ],
    liveness: [
      {
        name: 'every acknowledged message is delivered, or reported expired to its sender',
        check: ({ queue }: Ctx) => (queue.unaccounted === 0 ? undefined : `${queue.unaccounted} unaccounted`),
      },
      {
        name: 'every sender sees "delivered" for what was delivered',
        check: ({ world }: Ctx) => {
          const state = runs.get(world) as RunState;
          let unknown = 0;
          for (const [key, sent] of state.sent)
            if (sent.deliveredAt !== undefined && !state.senderKnows.has(key)) unknown++;
          return unknown === 0 ? undefined : `${unknown} senders not told yet`;
        },
      },
    ],
    figures: (ctx: Ctx) => figuresOf(runs.get(ctx.world) as RunState, ctx),
  });
}

function workload(ctx: Ctx): void {
  const { world, options, workloadRng: rng } = ctx;
  const n = options.nodes;
  const alwaysOn = new Set([
    0,
    ...[...Array(n).keys()].filter((i) => i > 0 && rng.float() < options.alwaysOnFraction),
  ]);
  const state: RunState = {
    sent: new Map(),
    held: new Map(),
    senderKnows: new Set(),
    stored: new Set(),
    bad: [],
    episodes: [],
    current: new Map(),
    alwaysOn,
    faultEndMs: options.faultMs,
  };
  runs.set(world, state);
  world.observe({ event: (node, event) => onEvent(ctx, state, node, event) });
  for (let i = 0; i < n; i++) {
    world.at(i * JOIN_EVERY_MS, () => world.act(i, (m, now) => m.start(simSeeds(i, world.id(0)), now)));
  }
  const contacts = socialGraph(n, options.contactsPerUser, rng);
  const joined = n * JOIN_EVERY_MS + 10_000;
  world.at(joined, () => befriendAll(ctx, contacts));
  world.at(joined + 20_000, () => nominateAll(ctx, contacts, alwaysOn));
  world.at(options.setupMs, () => startFaults(ctx, alwaysOn));
  scheduleMessages(ctx, state, contacts);
}

/** A random graph where each user picks about half its contacts and is picked for the rest. */
function socialGraph(n: number, perUser: number, rng: Rng): Set<number>[] {
  const contacts = Array.from({ length: n }, () => new Set<number>());
  for (let a = 0; a < n; a++) {
    for (let k = 0; k < perUser / 2; k++) {
      const b = rng.int(n);
      if (b === a) continue;
      (contacts[a] as Set<number>).add(b);
      (contacts[b] as Set<number>).add(a);
    }
  }
  return contacts;
}

/** Each pair exchanges identity documents and addresses out of band (a QR code, a link). */
function befriendAll(ctx: Ctx, contacts: readonly Set<number>[]): void {
  const { world } = ctx;
  contacts.forEach((peers, a) => {
    for (const b of peers) {
      const document = world.machine(b)?.identity.document;
      if (document === undefined) continue;
      world.act(
        a,
        (m, now) =>
          void m.messaging.addContact(document, now, {
            reach: { node: world.id(b), addrs: simContact(world.id(b)).addresses },
          }),
      );
    }
  });
}

/** Users nominate their most available contacts (what a trust score would favour), random among equals. */
function nominateAll(ctx: Ctx, contacts: readonly Set<number>[], alwaysOn: ReadonlySet<number>): void {
  const { world, options, workloadRng: rng } = ctx;
  if (options.replicants === 0) return;
  contacts.forEach((peers, user) => {
    const ranked = rng.shuffle([...peers]).sort((a, b) => Number(alwaysOn.has(b)) - Number(alwaysOn.has(a)));
    for (const replicant of ranked.slice(0, options.replicants)) {
      const id = world.machine(replicant)?.identity.messagingId;
      if (id !== undefined) world.act(user, (m, now) => m.messaging.nominate(id, now));
    }
  });
}

/** Churn, partitions; loss is on from the start (options.network). */
function startFaults(ctx: Ctx, alwaysOn: ReadonlySet<number>): void {
  const { world, options, faultRng: rng } = ctx;
  const others = [...Array(options.nodes).keys()].filter((i) => i > 0);
  world.churn(
    others.filter((i) => alwaysOn.has(i)),
    exponential(DAY),
    exponential(10 * 60_000),
    rng.fork('desktops'),
  );
  world.churn(
    others.filter((i) => !alwaysOn.has(i)),
    exponential(HOUR),
    uniform(60_000, DAY),
    rng.fork('mobiles'),
  );
  for (let t = options.setupMs + 4 * HOUR; t < options.faultMs - HOUR; t += 8 * HOUR) {
    world.at(t, () => world.partition(randomHalf(rng, options.nodes)));
    world.at(t + 20 * 60_000, () => world.heal());
  }
}

/** Poisson sends per user; a user sends only while its node is up (a person writes when online). */
function scheduleMessages(ctx: Ctx, state: RunState, contacts: readonly Set<number>[]): void {
  const { world, options, workloadRng: rng, queue } = ctx;
  const meanGapMs = DAY / options.messagesPerUserPerDay;
  let serial = 0;
  contacts.forEach((peers, sender) => {
    const targets = [...peers];
    if (targets.length === 0) return;
    const end = options.setupMs + options.trafficMs;
    for (let t = options.setupMs + rng.exponential(meanGapMs); t < end; t += rng.exponential(meanGapMs)) {
      const recipient = targets[rng.int(targets.length)] as number;
      const text = `message ${serial++}`;
      world.at(t, () =>
        world.act(sender, (m, now) => {
          const to = simIdentity(world.id(recipient)).messagingId;
          const sent = m.send(
            to,
            utf8(text),
            { ttlMs: options.ttlMs, isReplicated: options.replicants > 0 },
            now,
          );
          if (!sent.ok) return;
          state.sent.set(sent.value, { sender, recipient, sentAt: world.now, text });
          queue.enqueue(sent.value, 'ok');
        }),
      );
    }
  });
}

function onEvent(ctx: Ctx, state: RunState, node: number, event: NodeEvent): void {
  const { world, queue } = ctx;
  switch (event.type) {
    case 'online':
      return startEpisode(state, node, world.now);
    case 'message': {
      const sent = state.sent.get(event.key);
      queue.deliver(event.key);
      if (sent === undefined) return;
      if (sent.recipient !== node || unwrapText(event.content) !== sent.text) {
        state.bad.push(`node ${node} got ${event.key} meant for node ${sent.recipient}`);
      }
      sent.deliveredAt ??= world.now;
      const episode = state.current.get(node);
      if (episode?.waiting.delete(event.key) && episode.waiting.size === 0) episode.doneAt = world.now;
      return;
    }
    case 'outbox':
      if (event.state === 'delivered') state.senderKnows.add(event.key);
      if (event.state === 'stored') state.stored.add(event.key);
      if (event.state === 'expired') queue.reportUndeliverable(event.key);
      return;
    case 'held': {
      let keys = state.held.get(node);
      if (keys === undefined) state.held.set(node, (keys = new Set()));
      if (event.change === 'stored') keys.add(event.key);
      else keys.delete(event.key);
      return;
    }
    case 'nomination-request':
      // The nominee's person accepts a moment later.
      world.after(1_000, () => world.act(node, (m, t) => m.messaging.answerNomination(event.user, true, t)));
      return;
  }
}

/** A user came online: the messages sent to it and not delivered yet are what its inbox waits for. */
function startEpisode(state: RunState, user: number, at: number): void {
  state.current.delete(user);
  if (at >= state.faultEndMs) return;
  const waiting = new Set<string>();
  for (const [key, sent] of state.sent)
    if (sent.recipient === user && sent.deliveredAt === undefined) waiting.add(key);
  if (waiting.size === 0) return;
  const episode: Episode = { user, start: at, waiting };
  state.episodes.push(episode);
  state.current.set(user, episode);
}

function figuresOf(state: RunState, ctx: Ctx): Record<string, number | string> {
  const cutoff = state.faultEndMs;
  const sent = [...state.sent.values()];
  const inTime = sent.filter(
    (s) =>
      s.deliveredAt !== undefined && s.deliveredAt <= cutoff && s.deliveredAt - s.sentAt <= ctx.options.ttlMs,
  );
  const latencies = inTime.map((s) => (s.deliveredAt as number) - s.sentAt);
  const completed = state.episodes.filter((e) => e.doneAt !== undefined);
  const inbox = completed.map((e) => (e.doneAt as number) - e.start);
  return {
    messages: sent.length,
    'delivered in TTL': percent(inTime.length, sent.length),
    'stored by a replicant': percent(state.stored.size, sent.length),
    'send→inbox p50': duration(quantile(latencies, 0.5)),
    'send→inbox p99': duration(quantile(latencies, 0.99)),
    'returns with mail waiting': state.episodes.length,
    'inbox complete in that session': percent(completed.length, state.episodes.length),
    'return→complete p50': duration(quantile(inbox, 0.5)),
    'return→complete p99': duration(quantile(inbox, 0.99)),
  };
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)} %`;
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < HOUR) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / HOUR).toFixed(1)} h`;
}

function unwrapText(bytes: Uint8Array): string {
  const text = fromUtf8(bytes);
  return text.ok ? text.value : '';
}
