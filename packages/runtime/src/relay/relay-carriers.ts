import { type NodeId, type Result, bytesEqual, toHex } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import {
  RELAY_PROTOCOL,
  type RelayDecodeError,
  type RelayLimits,
  type RelayMessage,
  decodeRelayMessage,
  encodeRelayMessage,
} from '@postern/relay';
import { type NodeKeys, createNodeKeys, nodeIdOf } from '@postern/transport';
import { type RawData, WebSocket } from 'ws';
import { Host } from '../host.ts';
import { decodeFrame, encodeJsonFrame } from './ws-frames.ts';

/**
 * What carries a client's relay messages: a WebSocket (JSON text or CBOR binary frames) or a Noise
 * link (CBOR, link protocol RELAY_PROTOCOL). The client sets the two handlers.
 */
export interface Carrier {
  readonly open: boolean;
  send(message: RelayMessage): void;
  /** Bytes or text as given: for tests of what a relay does with what no client would send. */
  sendRaw(data: string | Uint8Array): void;
  close(): Promise<void>;
  onMessage: (decoded: Result<RelayMessage, RelayDecodeError>) => void;
  onClose: () => void;
}

export async function webSocketCarrier(
  url: string,
  form: 'json' | 'cbor',
  limits: RelayLimits,
): Promise<Carrier> {
  // A relay that takes the TCP connection but never completes the upgrade fails the dial, not hangs it.
  const ws = new WebSocket(url, { maxPayload: 4 * 1024 * 1024, handshakeTimeout: 10_000 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (error) => reject(new Error(`cannot reach the relay at ${url}: ${error.message}`)));
  });
  const carrier: Carrier = {
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
    send: (message) =>
      ws.send(form === 'json' ? encodeJsonFrame(message) : encodeRelayMessage(message), {
        binary: form === 'cbor',
      }),
    sendRaw: (data) => ws.send(data, { binary: typeof data !== 'string' }),
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    },
    onMessage: () => {},
    onClose: () => {},
  };
  ws.on('message', (data: RawData, isBinary: boolean) =>
    carrier.onMessage(decodeFrame(data, isBinary, limits)),
  );
  ws.on('close', () => carrier.onClose());
  ws.on('error', () => {});
  return carrier;
}

/**
 * A Noise link to a relay from a host of the client's own (an existing node's, or a fresh one that
 * closes with the carrier). The relay proves its key: its link announcement must be signed by it.
 */
export async function noiseCarrier(
  address: string,
  relayKey: Uint8Array,
  crypto: CryptoProvider,
  limits: RelayLimits,
): Promise<Carrier> {
  const announced = new Map<string, Uint8Array>();
  let relay: NodeId | undefined;
  const isRelay = (nodeId: NodeId | undefined) =>
    nodeId !== undefined && relay !== undefined && bytesEqual(nodeId, relay);
  const host = new Host({
    crypto,
    keys: createNodeKeys(crypto),
    onLinkUp: (nodeId, announcement) => announced.set(toHex(nodeId), announcement.signingKey),
    onMessage: (from, protocol, bytes) => {
      if (protocol === RELAY_PROTOCOL && isRelay(from)) carrier.onMessage(decodeRelayMessage(bytes, limits));
    },
    onLinkDown: (nodeId) => {
      if (!isRelay(nodeId)) return;
      carrier.onClose();
      void host.close(); // the host was made for this link alone
    },
  });
  const send = (bytes: Uint8Array) => {
    if (relay !== undefined) void host.send(relay, RELAY_PROTOCOL, bytes);
  };
  const carrier: Carrier = {
    get open() {
      return relay !== undefined && host.isConnected(relay);
    },
    send: (message) => send(encodeRelayMessage(message)),
    sendRaw: (data) => send(typeof data === 'string' ? new TextEncoder().encode(data) : data),
    close: () => host.close(),
    onMessage: () => {},
    onClose: () => {},
  };
  try {
    relay = await host.dial(address);
  } catch (error) {
    await host.close();
    throw new Error(`cannot reach the relay at ${address}: ${(error as Error).message}`);
  }
  const signingKey = announced.get(toHex(relay));
  if (signingKey === undefined || !bytesEqual(signingKey, relayKey)) {
    await host.close();
    throw new Error(`the node at ${address} is not the relay whose key the address names`);
  }
  return carrier;
}

/**
 * A relay's Noise keys, derived from its Ed25519 key so every process on one database has the same
 * node: the static key by HKDF from the secret seed, the announcement signed by the relay key itself
 * (which is how a client knows the node is that relay).
 */
export function relayNodeKeys(
  crypto: CryptoProvider,
  relayKey: { publicKey: Uint8Array; secretKey: Uint8Array },
): NodeKeys {
  const seed = relayKey.secretKey.subarray(0, 32);
  const secretKey = crypto.hkdf(
    'sha256',
    seed,
    new Uint8Array(0),
    new TextEncoder().encode('postern/relay/v1/noise-static'),
    32,
  );
  const publicKey = crypto.x25519PublicKey(secretKey);
  return {
    staticKey: { publicKey, secretKey },
    signing: { publicKey: relayKey.publicKey, secretKey: relayKey.secretKey },
    nodeId: nodeIdOf(crypto, publicKey),
  };
}
