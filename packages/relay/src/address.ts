import { type Result, err, fromBase64url, ok, toBase64url } from '@postern/core';

/**
 * How a relay is named in an identity document's `relays` and on the command line: where it
 * listens with the relay's Ed25519 key as the fragment — `ws://relay.example:7700/#<key>` (WebSocket,
 * wss: too) or `tcp://relay.example:7701#<key>` (a Postern Noise link). The fragment never reaches
 * the server; it is what the client checks every answer against.
 */
export interface RelayAddress {
  /** The URL without the fragment: ws:, wss: or tcp:. */
  readonly url: string;
  readonly key: Uint8Array;
  readonly transport: 'websocket' | 'noise';
}

export function formatRelayAddress(address: Omit<RelayAddress, 'transport'>): string {
  return `${address.url}#${toBase64url(address.key)}`;
}

export function parseRelayAddress(text: string): Result<RelayAddress, string> {
  const hash = text.lastIndexOf('#');
  if (hash < 0)
    return err(`"${text}" has no relay key: a relay address ends with #<key>, as the relay prints it`);
  let url: URL;
  try {
    url = new URL(text.slice(0, hash));
  } catch {
    return err(`"${text.slice(0, hash)}" is not a URL`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && url.protocol !== 'tcp:') {
    return err(`a relay URL starts with ws://, wss:// or tcp://, not ${url.protocol}//`);
  }
  const key = fromBase64url(text.slice(hash + 1));
  if (!key.ok || key.value.length !== 32) return err('the relay key after # is not a 32-byte base64url key');
  // tcp: stays as written: it is a link address (tcp://host:port), which has no path.
  if (url.protocol === 'tcp:') return ok({ url: text.slice(0, hash), key: key.value, transport: 'noise' });
  return ok({ url: url.href, key: key.value, transport: 'websocket' });
}
