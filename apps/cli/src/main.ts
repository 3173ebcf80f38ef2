#!/usr/bin/env node
// The postern command. Thin: parse arguments, call the runtime, print. Errors are one sentence
// with the fix, on stderr, with exit code 1.
import { userInfo } from 'node:os';
import { Command } from 'commander';
import { IdPrefix, UsageError, encodeIdText } from '@postern/core';
import { createSodiumProvider } from '@postern/crypto';
import { formatIdentityDocument } from '@postern/identity';
import { IdentityFileFailure, defaultDataDir, loadIdentity, loadOrCreateIdentity } from '@postern/runtime';

const crypto = createSodiumProvider();

function defaultLabel(): string {
  try {
    return userInfo().username || 'me';
  } catch {
    return 'me';
  }
}

const program = new Command()
  .name('postern')
  .description('Postern: decentralized, end-to-end encrypted, asynchronous messaging')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('start')
  .description('load the identity in the data directory (creating one on first run) and show it')
  .option('--data <dir>', 'data directory', defaultDataDir())
  .option('--label <name>', 'your name as contacts will see it, for a new identity', defaultLabel())
  .action((options: { data: string; label: string }) => {
    const loaded = loadOrCreateIdentity(crypto, options.data, options.label);
    const { identity } = loaded;
    console.log(loaded.created ? 'Created a new Postern identity.' : 'Loaded your Postern identity.');
    console.log(`  label:             ${identity.document.label}`);
    console.log(`  messaging id:      ${encodeIdText(IdPrefix.messaging, identity.messagingId)}`);
    console.log(`  identity document: ${loaded.publicPath}  (give this file to your contacts)`);
    console.log(`  secret keys:       ${loaded.secretPath}  (readable by you only; never share it)`);
    console.log('This version stops here: the node that sends and receives messages comes next.');
  });

program
  .command('id')
  .description('show your identity')
  .option('--data <dir>', 'data directory', defaultDataDir())
  .option('--export', 'print the signed identity document to give to contacts')
  .option('--json', 'print as JSON')
  .action((options: { data: string; export?: boolean; json?: boolean }) => {
    const identity = loadIdentity(crypto, options.data);
    const id = encodeIdText(IdPrefix.messaging, identity.messagingId);
    if (options.export) process.stdout.write(formatIdentityDocument(identity.document));
    else if (options.json)
      console.log(
        JSON.stringify({ label: identity.document.label, messagingId: id, seq: identity.document.seq }),
      );
    else console.log(`${identity.document.label}  ${id}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof IdentityFileFailure) {
    if (error.error.code === 'IDENTITY_FILE_UNREADABLE') {
      console.error(
        `postern: no identity in ${error.error.path} — run \`npm start\` (or \`postern start --data DIR\`) to create one`,
      );
    } else {
      console.error(`postern: ${error.message}`);
    }
    process.exitCode = 1;
  } else if (error instanceof UsageError) {
    const hint = error.code === 'IDENTITY_BAD_PROFILE' ? ' — choose another with --label NAME' : '';
    console.error(`postern: ${error.message}${hint}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
