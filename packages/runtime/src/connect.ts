import { createConnection } from 'node:net';
import { WebSocket } from 'ws';
import { type Address, formatAddress } from './address.ts';
import { type ByteStream, tcpStream, webSocketStream } from './byte-stream.ts';

/**
 * Opens a byte stream to an address, or fails with the reason: refused, unreachable, or no answer
 * within `timeoutMs`. `cancel()` abandons the attempt (the Host closing, say) and rejects it.
 */
export function connect(
  address: Address,
  timeoutMs: number,
): { stream: Promise<ByteStream>; cancel: () => void } {
  let cancel: () => void = () => undefined;
  const stream = new Promise<ByteStream>((resolve, reject) => {
    const where = formatAddress(address);
    const fail = (reason: string) => reject(new Error(`${where}: ${reason}`));
    if (address.scheme === 'tcp') {
      const socket = createConnection({ host: address.host, port: address.port });
      const timer = setTimeout(
        () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      // A failed dial must not leave its timer behind: it would hold a stopping process open.
      cancel = () => socket.destroy(new Error('cancelled'));
      socket.once('error', (error) => {
        clearTimeout(timer);
        fail(error.message);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        fail('closed before connecting');
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('close');
        resolve(tcpStream(socket));
      });
    } else {
      const ws = new WebSocket(
        `ws://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`,
        {
          maxPayload: 1024 * 1024,
          handshakeTimeout: timeoutMs,
        },
      );
      cancel = () => ws.terminate();
      ws.once('error', (error) => fail(error.message));
      ws.once('close', () => fail('closed before connecting'));
      ws.once('open', () => {
        ws.removeAllListeners('close');
        resolve(webSocketStream(ws));
      });
    }
  });
  return { stream, cancel: () => cancel() };
}
