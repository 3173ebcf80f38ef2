#!/usr/bin/env node
// The postern command. Thin: parse arguments, talk to the node (its local API) or run it, print.
// Errors are one sentence with the fix, on stderr; exit codes in exit-codes.ts.
import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { IdentityFileFailure, defaultDataDir } from '@postern/runtime';
import {
  addContact,
  changeRelays,
  listContacts,
  listRelays,
  listReplicants,
  removeContact,
  replicantAction,
} from './commands/contacts.ts';
import { inbox, send } from './commands/messages.ts';
import { runNode } from './commands/node.ts';
import { showId, status } from './commands/status.ts';
import { CliError, ExitCode } from './exit-codes.ts';
import { NodeClient } from './node-client.ts';

const crypto = createSodiumProvider();
// `postern inbox | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const RELAY_MAIN = fileURLToPath(new URL('../../relay/src/main.ts', import.meta.url));
/** tsx as this clone has it, whatever the current directory. */
const TSX = import.meta.resolve('tsx');

function defaultLabel(): string {
  try {
    return userInfo().username || 'me';
  } catch {
    return 'me';
  }
}

type WithData = { data: string };
const client = (options: WithData) => NodeClient.open(options.data);

/** Every command takes --data; read commands take --json. */
function command(parent: Command, name: string, description: string, json = false): Command {
  const made = parent
    .command(name)
    .description(description)
    .option('--data <dir>', 'data directory (env POSTERN_DATA_DIR)', defaultDataDir());
  return json ? made.option('--json', 'print JSON') : made;
}

const program = new Command()
  .name('postern')
  .description('Postern: decentralized, end-to-end encrypted, asynchronous messaging')
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\nExit codes: 0 done; 1 refused or wrong arguments (the message says why); 2 no node running on the\ndata directory (start one with `npm start`); 3 gave up waiting (send --wait, contacts add <id>).',
  );

for (const name of ['node', 'start']) {
  command(
    program,
    name,
    name === 'node' ? 'run your node until Ctrl-C' : 'the same as `postern node` (what `npm start` runs)',
  )
    .option('--label <name>', 'your name as contacts will see it, for a new identity', defaultLabel())
    .option(
      '--host <address>',
      "address to listen on (0.0.0.0: every interface; contacts are then given this machine's own addresses)",
      '127.0.0.1',
    )
    .option(
      '--port <n>',
      'TCP port for other nodes (0: any free port)',
      process.env['POSTERN_PORT'] ?? '7400',
    )
    .option(
      '--ws-port <n>',
      'WebSocket port for other nodes (0: any free port)',
      process.env['POSTERN_WS_PORT'] ?? '7401',
    )
    .option(
      '--peer <address>',
      'a node to join the network through, repeatable (env POSTERN_PEERS)',
      collect,
      [],
    )
    .option(
      '--announce <address>',
      'an address to give contacts instead of those listened on (a NAT, a DNS name), repeatable',
      collect,
      [],
    )
    .option('--json', 'print one JSON line when running and one when stopped')
    .action((options: Parameters<typeof runNode>[1]) => runNode(crypto, options));
}

command(program, 'id', 'show who you are', true)
  .option('--export', 'print your contact card (or identity document) to give to contacts')
  .action((o: WithData & { export?: boolean; json?: boolean }) => showId(crypto, o.data, () => client(o), o));

const contacts = program.command('contacts').description('the people you exchange messages with');
command(contacts, 'add', 'add a contact from their contact card file, or by messaging id', true)
  .argument('<file|id>', 'a contact card or identity document file, or a messaging id (postern1…)')
  .option('--name <name>', 'what to call them (default: their label)')
  .option('--timeout <seconds>', 'how long to look a messaging id up', '30')
  .action((ref: string, o: WithData & { name?: string; json?: boolean; timeout: string }) =>
    addContact(client(o), ref, o),
  );
command(contacts, 'list', 'list your contacts', true).action((o: WithData & { json?: boolean }) =>
  listContacts(client(o), o),
);
command(contacts, 'remove', 'remove a contact')
  .argument('<contact>', 'name or messaging id')
  .action((contact: string, o: WithData) => removeContact(client(o), contact));

const replicants = program
  .command('replicants')
  .description('contacts who hold your messages while you are offline, and whom you do that for');
for (const [name, description] of [
  ['nominate', 'ask a contact to hold your messages while you are offline'],
  ['revoke', 'stop a contact being your replicant'],
  ['accept', "agree to hold a contact's messages (see `replicants requests`)"],
  ['refuse', "refuse to hold a contact's messages"],
] as const) {
  command(replicants, name, description)
    .argument('<contact>', 'name or messaging id')
    .action((contact: string, o: WithData) => replicantAction(client(o), name, contact));
}
command(replicants, 'list', 'your replicants and the contacts you serve', true).action(
  (o: WithData & { json?: boolean }) => listReplicants(client(o), 'list', o),
);
command(replicants, 'requests', 'contacts asking you to be their replicant', true).action(
  (o: WithData & { json?: boolean }) => listReplicants(client(o), 'requests', o),
);

const relays = program.command('relays').description('relay servers your messages are also written to');
command(relays, 'add', 'add a relay (its address ends with #<key>, as the relay prints it)')
  .argument('<address>')
  .action((address: string, o: WithData) => changeRelays(client(o), 'add', address));
command(relays, 'remove', 'remove a relay')
  .argument('<address>')
  .action((address: string, o: WithData) => changeRelays(client(o), 'remove', address));
command(relays, 'list', 'list your relays', true).action((o: WithData & { json?: boolean }) =>
  listRelays(client(o), o),
);

command(program, 'send', 'send a message to a contact', true)
  .argument('<contact>', 'name or messaging id')
  .argument('<text>')
  .option('--wait', 'wait until it is delivered (or the timeout)')
  .option('--timeout <seconds>', 'how long --wait waits', '60')
  .action((to: string, text: string, o: WithData & { wait?: boolean; timeout: string; json?: boolean }) =>
    send(client(o), to, text, o),
  );
command(program, 'inbox', 'show the messages you received', true)
  .option('--follow', 'keep printing new messages until Ctrl-C')
  .option(
    '--remove <key>',
    'remove a message you have read (the start of its key, shown in brackets, is enough)',
  )
  .action((o: WithData & { follow?: boolean; json?: boolean; remove?: string }) => inbox(client(o), o));
command(program, 'status', "your node's peers, directory, outbox and duties", true).action(
  (o: WithData & { json?: boolean }) => status(client(o), o),
);

program
  .command('relay')
  .description('run or manage a relay server (`postern relay --help`)')
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action((args: string[]) => runRelay(args));

/** The relay is its own program (apps/relay): run it here with the same Node, through tsx. */
function runRelay(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', TSX, RELAY_MAIN, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      process.exitCode = code ?? 1;
      resolve();
    }),
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = exitFor(error);
}

function exitFor(error: unknown): number {
  if (error instanceof CliError) {
    console.error(`postern: ${error.message}`);
    return error.exitCode;
  }
  if (error instanceof IdentityFileFailure) {
    if (error.error.code === 'IDENTITY_FILE_UNREADABLE')
      console.error(
        `postern: no identity in ${error.error.path} — run \`npm start\` (or \`postern node --data DIR\`) to create one`,
      );
    else console.error(`postern: ${error.message}`);
    return ExitCode.refused;
  }
  if (error instanceof UsageError) {
    const hint = error.code === 'IDENTITY_BAD_PROFILE' ? ' — choose another with --label NAME' : '';
    console.error(`postern: ${error.message}${hint}`);
    return ExitCode.refused;
  }
  throw error;
}
