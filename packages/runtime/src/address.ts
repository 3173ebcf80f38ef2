import { UsageError } from '@postern/core';

/** A listening address as Postern writes it: `tcp://host:port` or `ws://host:port` (IPv6 hosts in brackets). */
export interface Address {
  readonly scheme: 'tcp' | 'ws';
  readonly host: string;
  readonly port: number;
}

const ADDRESS = /^(tcp|ws):\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

export function parseAddress(text: string): Address {
  const match = ADDRESS.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(
      'ADDRESS_MALFORMED',
      `"${text}" is not an address like tcp://127.0.0.1:7400 or ws://[::1]:7401`,
    );
  }
  const host = (match[2] as string).replace(/^\[(.*)\]$/, '$1');
  return { scheme: match[1] as 'tcp' | 'ws', host, port };
}

export function formatAddress(address: Address): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.scheme}://${host}:${address.port}`;
}
