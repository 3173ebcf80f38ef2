import type { Millis, Result } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import type { PosternNode, RelayEvent } from '@postern/node';
import {
  type RelayDecodeError,
  type RelayLimits,
  type RelayMessage,
  parseRelayAddress,
  relayLimits,
} from '@postern/relay';
import { type Carrier, noiseCarrier, webSocketCarrier } from './relay-carriers.ts';

type Input = (apply: (node: PosternNode, now: Millis) => void) => void;

/**
 * The node's relay connections: the relay mailbox (packages/node) says which relays to connect to
 * and what to send; this opens the connections (WebSocket with CBOR frames, or Noise links) and
 * hands back what arrives, connections opening and closing included.
 */
export class RelayLinks {
  readonly #crypto: CryptoProvider;
  readonly #input: Input;
  readonly #limits: RelayLimits = relayLimits();
  readonly #carriers = new Map<string, Carrier>();
  /** Addresses being dialled, and whether they are still wanted when the dial ends. */
  readonly #dialling = new Map<string, { wanted: boolean }>();
  #closed = false;

  constructor(crypto: CryptoProvider, input: Input) {
    this.#crypto = crypto;
    this.#input = input;
  }

  handle(event: RelayEvent): void {
    if (event.type === 'relay-connect') this.#connect(event.relay);
    else if (event.type === 'relay-disconnect') this.#disconnect(event.relay);
    else if (event.type === 'relay-send') {
      const carrier = this.#carriers.get(event.relay);
      if (carrier?.open) carrier.send(event.message);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const dial of this.#dialling.values()) dial.wanted = false;
    const carriers = [...this.#carriers.values()];
    this.#carriers.clear();
    await Promise.all(carriers.map((c) => c.close()));
  }

  #connect(address: string): void {
    const dialling = this.#dialling.get(address);
    if (dialling !== undefined) dialling.wanted = true; // disconnected, then wanted again: the dial stands
    if (this.#closed || this.#carriers.has(address) || dialling !== undefined) return;
    const parsed = parseRelayAddress(address);
    if (!parsed.ok) return this.#input((n, t) => n.relayDown(address, t));
    const dial = { wanted: true };
    this.#dialling.set(address, dial);
    const { transport, url, key } = parsed.value;
    const opening =
      transport === 'noise'
        ? noiseCarrier(url, key, this.#crypto, this.#limits)
        : webSocketCarrier(url, 'cbor', this.#limits);
    opening
      .then((carrier) => {
        this.#dialling.delete(address);
        if (!dial.wanted) return void carrier.close();
        this.#carriers.set(address, carrier);
        carrier.onMessage = (decoded: Result<RelayMessage, RelayDecodeError>) =>
          this.#input((n, t) => n.relayMessage(address, decoded, t));
        carrier.onClose = () => {
          void carrier.close(); // a Noise carrier's own host goes with its link
          if (this.#carriers.get(address) !== carrier) return;
          this.#carriers.delete(address);
          this.#input((n, t) => n.relayDown(address, t));
        };
        this.#input((n, t) => n.relayUp(address, t));
      })
      .catch(() => {
        this.#dialling.delete(address);
        if (dial.wanted) this.#input((n, t) => n.relayDown(address, t));
      });
  }

  #disconnect(address: string): void {
    const dial = this.#dialling.get(address);
    if (dial !== undefined) dial.wanted = false;
    const carrier = this.#carriers.get(address);
    this.#carriers.delete(address);
    void carrier?.close();
  }
}
