// npm run demo: the Postern story on this machine, played by itself — Alice, Bob and Carol, each a
// real node (its own identity, SQLite database and sockets on 127.0.0.1), and one relay. Bob makes
// Carol his replicant and goes offline; Alice sends; Carol (and the relay) hold the message; Bob
// comes back and it arrives. Delivery states are printed as they happen. Everything lives in a
// temporary directory, removed at the end (or on Ctrl-C).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdPrefix, encodeIdText } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import type { NodeEvent } from '@postern/node';
import { NodeDaemon, RelayService, SqliteRelayStore, stopOnSignals } from '@postern/runtime';

const crypto = createSodiumProvider();
const dir = mkdtempSync(join(tmpdir(), 'postern-demo-'));
const started = performance.now();
const WAIT_MS = 60_000;
/** A pause after each step, so a person can follow; none with --fast or when the output is not a terminal. */
const PACE_MS = process.argv.includes('--fast') || process.stdout.isTTY !== true ? 0 : 900;

async function say(text: string): Promise<void> {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${text}`);
  if (PACE_MS > 0) await new Promise((resolve) => setTimeout(resolve, PACE_MS));
}

function startNode(name: string): Promise<NodeDaemon> {
  return NodeDaemon.start({
    crypto,
    dataDir: join(dir, name.toLowerCase()),
    label: name,
    port: 0,
    wsPort: 0,
  });
}

/** Resolves once `check` holds, checking after each node event and every 100 ms; fails after a minute. */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  daemons: readonly NodeDaemon[],
): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`the demo waited a minute for ${what}`);
    await new Promise<void>((resolve) => {
      const offs = daemons.map((d) => d.runtime.onEvent(() => done()));
      const timer = setTimeout(() => done(), 100);
      function done() {
        clearTimeout(timer);
        for (const off of offs) off();
        resolve();
      }
    });
  }
}

async function introduce(a: NodeDaemon, b: NodeDaemon): Promise<void> {
  a.api.addContact({ card: readFileSync(b.cardPath, 'utf8') });
  b.api.addContact({ card: readFileSync(a.cardPath, 'utf8') });
  const online = (x: NodeDaemon, y: NodeDaemon) =>
    (x.api.contacts() as { name: string; online: boolean }[]).some(
      (c) => c.name === y.runtime.identity.document.label && c.online,
    );
  await until('contacts to connect', () => online(a, b) && online(b, a), [a, b]);
}

const relayStore = new SqliteRelayStore(join(dir, 'relay', 'relay.db'));
let relay: RelayService | undefined;
const daemons: NodeDaemon[] = [];
let cleaning: Promise<void> | undefined;
/** Stops the nodes and the relay and removes the directory: at the end, or on Ctrl-C. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const d of daemons) await d.stop();
    await relay?.close();
    await relayStore.close();
    rmSync(dir, { recursive: true, force: true });
    console.log(`\nStopped the nodes and the relay; removed ${dir}.`);
  })();
  return cleaning;
}
let interrupted = false;
stopOnSignals(() => {
  interrupted = true;
  console.log('\nInterrupted.');
  return cleanUp().finally(() => process.exit(130));
});
try {
  console.log(`Postern demo — three nodes and a relay on this machine, in ${dir}\n`);
  relay = await RelayService.start({ crypto, store: relayStore, port: 0 });
  await say(`relay running at ${relay.address} (SQLite)`);
  const alice = await startNode('Alice');
  let bob = await startNode('Bob');
  const carol = await startNode('Carol');
  daemons.push(alice, bob, carol);
  for (const d of daemons) {
    const { label, pubkey } = d.runtime.identity.document;
    await say(
      `${label.padEnd(5)} is running: ${encodeIdText(IdPrefix.messaging, pubkey)} at ${d.runtime.host.addresses[0]}`,
    );
  }

  await introduce(alice, bob);
  await introduce(bob, carol);
  await say('Alice and Bob, and Bob and Carol, exchanged contact cards and are connected');

  await relayStore.openAccount(
    alice.runtime.messagingId,
    { recordsMax: 1000, bytesMax: 1 << 24 },
    'operator',
    Date.now(),
  );
  alice.api.changeRelays('add', { address: relay.address });
  await say(
    "the relay's operator opened an account for Alice; Alice added the relay: her messages are also written there",
  );

  bob.api.replicantAction('nominate', { contact: 'Carol' });
  await say('Bob asks Carol to be his replicant (to hold his messages while he is offline)');
  await until('the request to reach Carol', () => hasRequest(carol), [carol]);
  carol.api.replicantAction('accept', { contact: 'Bob' });
  await say('Carol accepts');
  await until(
    "Alice to learn of Bob's replicant",
    () =>
      (alice.api.contacts() as { name: string; replicants: number }[]).some(
        (c) => c.name === 'Bob' && c.replicants === 1,
      ),
    daemons,
  );
  await say("Bob's identity document now lists Carol, and Alice has it");

  await bob.stop();
  await say('Bob goes offline (his node stops)');

  const text = 'Hi Bob — dinner on Friday?';
  const stateWords = new Map<string, string>();
  const offOutbox = alice.runtime.onEvent((event: NodeEvent) => {
    if (event.type !== 'outbox') return;
    const by =
      event.by !== undefined ? " by Bob's replicant" : event.relay !== undefined ? ' by the relay' : '';
    const line = `${event.state}${by}`;
    if (stateWords.get(event.key) === line) return;
    stateWords.set(event.key, line);
    void say(`  Alice's message is ${line}`);
  });
  await say(`Alice sends "${text}"`);
  const { key } = alice.api.send({ to: 'Bob', text }) as { key: string };
  await until('Carol to hold the message', () => heldBy(carol) === 1, [alice, carol]);
  await say(`Carol holds ${heldBy(carol)} message for Bob`);
  const onRelay = async () => (await relayStore.account(alice.runtime.messagingId))?.records ?? 0;
  await until('the relay to hold the message', async () => (await onRelay()) === 1, [alice]);
  await say(`the relay holds ${await onRelay()} record of Alice's too (sealed: it cannot read it)`);

  bob = await startNode('Bob');
  daemons[1] = bob;
  await say('Bob comes back online; his node tells his contacts');
  await until('the message to reach Bob', () => (bob.api.inbox(0, 100) as unknown[]).length > 0, daemons);
  for (const m of bob.api.inbox(0, 100) as { from: string; text: string; via: string }[])
    await say(`  Bob's inbox: "${m.text}" from ${m.from}, via ${m.via}`);
  await until(
    'the signed receipt',
    () => (alice.api.outbox(key) as { state: string }).state === 'delivered',
    daemons,
  );
  offOutbox();
  await until('Carol to hand the message over', () => heldBy(carol) === 0, daemons);
  await say("Carol no longer holds it, and Bob's inbox has it once: done.");
} catch (error) {
  // An interrupted step fails as its node stops under it: the interruption is the news, not that.
  if (!interrupted) throw error;
} finally {
  await cleanUp();
}

function hasRequest(d: NodeDaemon): boolean {
  return (d.api.replicants() as { serving: { state: string }[] }).serving.some(
    (s) => s.state === 'requested',
  );
}

function heldBy(d: NodeDaemon): number {
  return (d.api.status() as { duties: { held: number } }).duties.held;
}
