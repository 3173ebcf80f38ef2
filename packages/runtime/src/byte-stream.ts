import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { concatBytes } from '@postern/core';

/**
 * A duplex byte stream, whatever carries it: a TCP socket, or a WebSocket whose binary messages
 * are treated as chunks of one stream. A Link sees only this.
 */
export interface ByteStream {
  /** Writes the chunks in order, as one vectored write where the carrier allows it. */
  writev(chunks: readonly Uint8Array[]): void;
  /** Bytes accepted by `writev` and not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /** Flushes what is buffered, then closes. */
  end(): void;
  destroy(): void;
  onData(listener: (bytes: Uint8Array) => void): void;
  /** Called when the buffer has emptied after writes. */
  onDrain(listener: () => void): void;
  onClose(listener: (error?: Error) => void): void;
}

export function tcpStream(socket: Socket): ByteStream {
  socket.setNoDelay(true);
  return {
    writev: (chunks) => {
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork(); // one writev system call for the lot
    },
    get bufferedBytes() {
      return socket.writableLength;
    },
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
    onData: (listener) => void socket.on('data', (chunk: Buffer) => listener(chunk)),
    onDrain: (listener) => void socket.on('drain', listener),
    onClose: (listener) => {
      let error: Error | undefined;
      socket.on('error', (e) => (error = e));
      socket.on('close', () => listener(error));
    },
  };
}

export function webSocketStream(ws: WebSocket): ByteStream {
  ws.binaryType = 'nodebuffer';
  const drainListeners: (() => void)[] = [];
  return {
    // ws has no 'drain' event: the send callback runs once the frame is written out.
    writev: (chunks) =>
      ws.send(concatBytes(...chunks), { binary: true }, () => {
        if (ws.bufferedAmount === 0) for (const listener of drainListeners) listener();
      }),
    get bufferedBytes() {
      return ws.bufferedAmount;
    },
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
    onData: (listener) =>
      void ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) listener(data);
        else ws.terminate(); // Postern links are binary; text is a confused or hostile peer
      }),
    onDrain: (listener) => void drainListeners.push(listener),
    onClose: (listener) => {
      let error: Error | undefined;
      ws.on('error', (e) => (error = e));
      ws.on('close', () => listener(error));
    },
  };
}
