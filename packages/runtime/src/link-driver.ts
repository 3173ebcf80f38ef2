import type { Link, LinkEvent } from '@postern/transport';
import type { ByteStream } from './byte-stream.ts';
import type { Clock } from './clock.ts';

/** Bytes buffered towards the kernel before the driver stops pulling from the link: its backpressure. */
const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
/** How much one pull may take: a few Noise frames, so protocols keep taking turns. */
const PULL_BYTES = 256 * 1024;
/** After its link closed, a stream whose peer has not closed its side within this is destroyed. */
const END_GRACE_MS = 2_000;

type ClosedEvent = Extract<LinkEvent, { type: 'closed' }>;

/**
 * Binds one sans-I/O Link to a real byte stream and real timers: feeds it what the stream reads,
 * writes what it pulls while the stream's buffer is below the high-water mark, arms one timer for
 * its next wake-up, and hands its events to the owner. When the link closes, its last bytes (a
 * CLOSE record) are written and the stream ended, then destroyed if the peer does not close its
 * side. `onGone` runs once the stream is really closed: until then the connection still counts.
 */
export class LinkDriver {
  readonly link: Link;
  readonly stream: ByteStream;
  readonly #clock: Clock;
  readonly #onEvent: (event: LinkEvent, driver: LinkDriver) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #destroyTimer: NodeJS.Timeout | undefined;
  #ended = false;
  #closedDelivered = false;
  #pumpScheduled = false;

  constructor(
    link: Link,
    stream: ByteStream,
    clock: Clock,
    onEvent: (event: LinkEvent, driver: LinkDriver) => void,
    onGone: (driver: LinkDriver) => void = () => undefined,
  ) {
    this.link = link;
    this.stream = stream;
    this.#clock = clock;
    this.#onEvent = onEvent;
    stream.onData((bytes) => {
      link.receive(bytes, clock.monotonic());
      this.pump();
    });
    stream.onDrain(() => this.pump());
    stream.onClose((error) => {
      this.#clearTimer();
      if (this.#destroyTimer !== undefined) clearTimeout(this.#destroyTimer);
      this.#ended = true;
      // The socket went away under the link: reported once, as the peer's doing.
      const detail = error ? error.message : 'connection closed';
      this.#deliverClosed({ type: 'closed', code: 'Normal', detail, byPeer: true });
      onGone(this);
    });
    this.pump();
  }

  /**
   * After a command (send, close): writes what the link has now, and delivers its events later, in a
   * microtask, so a caller's `send` never runs its own message handlers inside itself.
   */
  flush(): void {
    this.#write();
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.pump();
    });
  }

  /** After any input (bytes, drain, timer): write what the link has, deliver its events, re-arm its timer. */
  pump(): void {
    this.#write();
    for (;;) {
      const output = this.link.pollOutput();
      if (output.type === 'timeout') {
        this.#arm(output.at);
        break;
      }
      if (output.type === 'event') this.#deliver(output.event);
    }
  }

  #write(): void {
    const now = this.#clock.monotonic();
    while (!this.#ended && this.stream.bufferedBytes < WRITE_HIGH_WATER_BYTES) {
      const chunks = this.link.pull(PULL_BYTES, now);
      if (chunks.length === 0) break;
      this.stream.writev(chunks);
    }
  }

  #deliver(event: LinkEvent): void {
    if (event.type !== 'closed') return this.#onEvent(event, this);
    if (!this.#ended) {
      this.#ended = true;
      this.#clearTimer();
      const last = this.link.pull(PULL_BYTES, this.#clock.monotonic());
      if (last.length > 0) this.stream.writev(last);
      this.stream.end();
      this.#destroyTimer = setTimeout(() => this.stream.destroy(), END_GRACE_MS);
      this.#destroyTimer.unref();
    }
    this.#deliverClosed(event);
  }

  #deliverClosed(event: ClosedEvent): void {
    if (this.#closedDelivered) return;
    this.#closedDelivered = true;
    this.#onEvent(event, this);
  }

  #arm(at: number | undefined): void {
    if (at === undefined || this.#ended) return this.#clearTimer();
    // A timer due no later than `at` stays: if it fires early the link finds nothing to do and the
    // pump arms the next one. So a busy link (whose keepalive deadline moves with every record)
    // does not replace its timer on every pump.
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.link.handleTimeout(this.#clock.monotonic());
        this.pump();
      },
      Math.max(0, at - this.#clock.monotonic()),
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
