import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Machine, type Millis, type NodeId, type Output, PairDriver } from '../src/index.ts';

// A small example protocol: the pinger sends PING n and retransmits every `retryMs` until PONG n
// arrives, `count` times; the ponger answers every PING. Enough to exercise delivery, timers,
// retransmission, loss and tampering in the driver.
type PingEvent = { type: 'done'; rounds: number; at: Millis } | { type: 'garbage'; from: NodeId };
const PING = 1;
const PONG = 2;

class PingPong implements Machine<PingEvent> {
  readonly #peer: NodeId;
  readonly #retryMs: number;
  readonly #outputs: Output<PingEvent>[] = [];
  #round = 0;
  #count = 0;
  #timer: Millis | undefined;

  constructor(peer: NodeId, retryMs = 100) {
    this.#peer = peer;
    this.#retryMs = retryMs;
  }

  start(count: number, now: Millis): void {
    this.#count = count;
    this.#send(PING, now);
  }

  handleReceive(from: NodeId, bytes: Uint8Array, now: Millis): void {
    const [kind, round] = bytes;
    if (bytes.length !== 2 || round === undefined) {
      this.#outputs.push({ type: 'event', event: { type: 'garbage', from } });
    } else if (kind === PING) {
      this.#outputs.push({ type: 'transmit', to: from, bytes: new Uint8Array([PONG, round]) });
    } else if (kind === PONG && round === this.#round && this.#timer !== undefined) {
      this.#round++;
      this.#timer = undefined;
      if (this.#round < this.#count) this.#send(PING, now);
      else this.#outputs.push({ type: 'event', event: { type: 'done', rounds: this.#round, at: now } });
    }
  }

  handleTimeout(now: Millis): void {
    if (this.#timer === undefined || now < this.#timer) return;
    this.#send(PING, now);
  }

  pollOutput(): Output<PingEvent> {
    return this.#outputs.shift() ?? { type: 'timeout', at: this.#timer };
  }

  #send(kind: number, now: Millis): void {
    this.#outputs.push({ type: 'transmit', to: this.#peer, bytes: new Uint8Array([kind, this.#round]) });
    this.#timer = (now + this.#retryMs) as Millis;
  }
}

const idA = new Uint8Array(32).fill(0xa) as NodeId;
const idB = new Uint8Array(32).fill(0xb) as NodeId;

function pair(options: ConstructorParameters<typeof PairDriver>[2] = {}) {
  const a = new PingPong(idB);
  const b = new PingPong(idA);
  return { a, b, driver: new PairDriver({ id: idA, machine: a }, { id: idB, machine: b }, options) };
}

describe('PairDriver', () => {
  it('runs a request/response protocol to completion in virtual time', () => {
    const { a, driver } = pair({ latencyMs: 10 });
    a.start(3, driver.now);
    const result = driver.drive();
    assert.equal(result.idle, true);
    assert.deepEqual(driver.eventsA, [{ type: 'done', rounds: 3, at: 60 }]);
    assert.equal(driver.now, 60);
  });

  it('fires timers so that a lost message is retransmitted', () => {
    let dropped = 0;
    const { a, driver } = pair({
      latencyMs: 10,
      intercept: (_from, _to, bytes) => (bytes[0] === PING && dropped++ < 2 ? undefined : bytes),
    });
    a.start(1, driver.now);
    driver.drive();
    assert.equal(dropped, 3);
    assert.deepEqual(driver.eventsA, [{ type: 'done', rounds: 1, at: 220 }]); // two 100 ms retries, then 20 ms
  });

  it('delivers altered bytes so tests can play a tampering carrier', () => {
    const { a, driver } = pair({
      intercept: (_from, _to, bytes) => (bytes[0] === PING ? new Uint8Array([9, 9, 9]) : bytes),
    });
    a.start(1, driver.now);
    driver.driveBounded(1);
    assert.deepEqual(driver.eventsB, [{ type: 'garbage', from: idA }]);
  });

  it('stops after the given number of steps, leaving work pending', () => {
    const { a, driver } = pair();
    a.start(5, driver.now);
    const result = driver.driveBounded(2);
    assert.deepEqual(result, { steps: 2, idle: false });
    assert.deepEqual(driver.eventsA, []);
    assert.equal(driver.driveBounded(100).idle, true);
    assert.equal(driver.eventsA.length, 1);
  });

  it('advances the clock to a deadline with driveUntil and stops at pending later work', () => {
    const { a, driver } = pair({ latencyMs: 10, intercept: () => undefined }); // a network that drops everything
    a.start(1, driver.now);
    const result = driver.driveUntil(250);
    assert.equal(driver.now, 250);
    assert.equal(result.steps, 2); // the retries at 100 and 200
    assert.equal(result.idle, false); // the retry at 300 is still pending
  });

  it('refuses to drive a pair that never settles', () => {
    const { a, driver } = pair({ intercept: () => undefined });
    a.start(1, driver.now);
    assert.throws(() => driver.drive(), { name: 'AssertionError' });
  });
});
