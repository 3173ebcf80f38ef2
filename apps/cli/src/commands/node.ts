import { IdPrefix, encodeIdText } from '@postern/core';
import type { CryptoProvider } from '@postern/crypto';
import { ADDRESSES_MAX, ADDRESS_BYTES_MAX } from '@postern/replicant';
import { DaemonError, NodeDaemon, PUBLIC_FILE, parseAddress, stopOnSignals } from '@postern/runtime';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../exit-codes.ts';
import { Spinner } from '../output.ts';

export interface NodeOptions {
  data: string;
  label: string;
  host: string;
  port: string;
  wsPort: string;
  peer: string[];
  announce: string[];
  /** One JSON line when running and one when stopped, instead of the text (for scripts). */
  json?: boolean;
}

/** `postern node` (and `npm start`): runs the node until Ctrl-C. */
export async function runNode(crypto: CryptoProvider, options: NodeOptions): Promise<void> {
  const peers = [...options.peer, ...splitList(process.env['POSTERN_PEERS'])];
  for (const [option, address] of [
    ...peers.map((p) => ['--peer', p]),
    ...options.announce.map((a) => ['--announce', a]),
  ]) {
    try {
      parseAddress(address as string);
      if (Buffer.byteLength(address as string) > ADDRESS_BYTES_MAX) throw new Error('too long');
    } catch {
      throw new CliError(
        `${option} ${address} is not an address like tcp://192.0.2.7:7400 or ws://[::1]:7401`,
      );
    }
  }
  if (options.announce.length > ADDRESSES_MAX)
    throw new CliError(`give at most ${ADDRESSES_MAX} --announce addresses (contacts keep no more)`);
  const created = !existsSync(join(options.data, PUBLIC_FILE));
  const spinner = new Spinner();
  if (peers.length > 0 && !options.json)
    spinner.update(`joining the network through ${peers.length} peer(s)…`);
  let daemon: NodeDaemon;
  try {
    daemon = await NodeDaemon.start({
      crypto,
      dataDir: options.data,
      label: options.label,
      host: options.host,
      port: port(options.port, '--port'),
      wsPort: port(options.wsPort, '--ws-port'),
      peers,
      announce: options.announce,
    });
  } catch (error) {
    if (error instanceof DaemonError) throw new CliError(error.message);
    throw error;
  } finally {
    spinner.stop();
  }
  // Listening for Ctrl-C before saying it runs: a signal right after the line must stop it cleanly.
  const interrupted = untilInterrupted(daemon, () =>
    console.log(options.json ? JSON.stringify({ event: 'stopping' }) : 'Stopping…'),
  );
  const status = daemon.api.status() as { peers: number };
  if (options.json) {
    const id = daemon.api.id() as Record<string, unknown>;
    console.log(
      JSON.stringify({
        event: 'running',
        pid: process.pid,
        ...id,
        card: daemon.cardPath,
        peers: status.peers,
      }),
    );
  } else {
    if (created) console.log('Created your Postern identity (first run).');
    printRunning(daemon, options, peers.length, status.peers);
  }
  await interrupted;
  console.log(options.json ? JSON.stringify({ event: 'stopped' }) : 'Stopped.');
}

function printRunning(daemon: NodeDaemon, options: NodeOptions, peers: number, connected: number): void {
  const { document } = daemon.runtime.identity;
  console.log('Postern node running.');
  console.log(`  label:          ${document.label}`);
  console.log(`  messaging id:   ${encodeIdText(IdPrefix.messaging, document.pubkey)}`);
  console.log(`  node id:        ${encodeIdText(IdPrefix.node, daemon.runtime.nodeId)}`);
  console.log(`  listening on:   ${daemon.runtime.host.addresses.join('  ')}`);
  console.log(
    `  reach me at:    ${daemon.runtime.addresses.join('  ') || 'nowhere: no address to give (see --announce)'}`,
  );
  console.log(`  contact card:   ${daemon.cardPath}  (give this file to your contacts)`);
  console.log(`  identity:       ${join(options.data, PUBLIC_FILE)}`);
  console.log(`  data directory: ${options.data}`);
  if (peers > 0) console.log(`Connected to ${connected} of ${peers} peer(s).`);
  else
    console.log(
      'No peers given: contacts reach this node at the addresses above (--peer ADDRESS joins a network).',
    );
  console.log('Manage it from another terminal: npx postern --help. Ctrl-C stops it.');
}

/**
 * Resolves once Ctrl-C, SIGTERM or a closed terminal (SIGHUP) has stopped the node cleanly; rejects
 * if the node could not go on (its database failed), after stopping it.
 */
function untilInterrupted(daemon: NodeDaemon, onStopping: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failure: Error | undefined;
    const stop = stopOnSignals(
      () => {
        onStopping();
        return daemon.stop().then(
          () => (failure === undefined ? resolve() : reject(new CliError(failure.message))),
          (error: Error) => reject(new CliError(`the node did not stop cleanly: ${error.message}`)),
        );
      },
      {
        onHang: (ms) =>
          console.error(`postern: the node did not stop within ${ms / 1000} s; ending it as it is.`),
      },
    );
    daemon.onFatal((error) => {
      failure = error;
      stop();
    });
  });
}

function port(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new CliError(`${option} must be a port number from 0 to 65535 (0: any free port), not "${text}"`);
  return value;
}

function splitList(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter((item) => item !== '');
}
