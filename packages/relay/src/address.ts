import { type Result, err, fromBase64url, ok, toBase64url } from '@postern/core';

/**
 * How a relay is named in an identity document's `relays` and on the command line: its WebSocket
 * URL with the relay's Ed25519 key as the fragment, `ws://relay.example:7700/#<key base64url>`.
 * The fragment never reaches the server; it is what the client checks every answer against.
 */
export interface RelayAddress {
  /** ws: or wss: URL, without the fragment. */
  readonly url: string;
  readonly key: Uint8Array;
}

export function formatRelayAddress(address: RelayAddress): string {
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
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    return err(`a relay URL starts with ws:// or wss://, not ${url.protocol}//`);
  const key = fromBase64url(text.slice(hash + 1));
  if (!key.ok || key.value.length !== 32) return err('the relay key after # is not a 32-byte base64url key');
  return ok({ url: url.href, key: key.value });
}
