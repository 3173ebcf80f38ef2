import { existsSync, readFileSync, statSync } from 'node:fs';
import type { NodeClient } from '../node-client.ts';
import { CliError, ExitCode } from '../exit-codes.ts';
import { Spinner, delay, printJson, printTable, printable, seconds } from '../output.ts';

interface ContactJson {
  name: string;
  id: string;
  online: boolean;
  addresses: string[];
  replicants: number;
  relays: string[];
}

/** Contact cards are small; a larger file is surely the wrong one. */
const CARD_FILE_BYTES_MAX = 64 * 1024;

/** `contacts add <file|id>`: a contact card or identity document file, or a messaging id looked up in the DHT. */
export async function addContact(
  client: NodeClient,
  ref: string,
  options: { name?: string; json?: boolean; timeout: string },
): Promise<void> {
  const timeoutMs = seconds(options.timeout) * 1000;
  if (existsSync(ref)) {
    const name = options.name === undefined ? {} : { name: options.name };
    const { added } = await client.post<{ added: ContactJson }>('/v1/contacts', {
      card: readCard(ref),
      ...name,
    });
    return showAdded(added, options.json);
  }
  if (!/^postern1/i.test(ref))
    throw new CliError(`no file ${ref}, and it is not a messaging id (postern1…) either`);
  const id = ref.toLowerCase();
  const answer = await client.post<{ added?: ContactJson; lookup?: number }>('/v1/contacts', { id });
  const found = answer.added ?? (await lookedUp(client, id, answer.lookup ?? -1, timeoutMs));
  if (options.name === undefined) return showAdded(found, options.json);
  const { renamed } = await client.post<{ renamed: ContactJson }>('/v1/contacts/rename', {
    contact: found.id,
    name: options.name,
  });
  showAdded(renamed, options.json);
}

/** Waits for a DHT lookup by id to add the contact, with a spinner; fails at once if it was not found. */
async function lookedUp(
  client: NodeClient,
  id: string,
  lookup: number,
  timeoutMs: number,
): Promise<ContactJson> {
  const spinner = new Spinner();
  spinner.update(`looking up ${id} in the directory…`);
  const deadline = Date.now() + timeoutMs;
  try {
    for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
      const found = (await client.get<ContactJson[]>('/v1/contacts')).find((c) => c.id === id);
      if (found !== undefined) return found;
      const { state } = await client.get<{ state: string }>(`/v1/lookups/${lookup}`);
      if (state === 'not-found')
        throw new CliError(`${id} is not in the directory — ask them for their contact card file`);
      await delay(250);
    }
  } finally {
    spinner.stop();
  }
  throw new CliError(
    `${id} was not found in the directory in time — try again, or ask for their contact card`,
    ExitCode.timedOut,
  );
}

function readCard(path: string): string {
  const stat = statSync(path);
  if (!stat.isFile())
    throw new CliError(`${path} is not a file — give a contact card file or a messaging id`);
  if (stat.size > CARD_FILE_BYTES_MAX) throw new CliError(`${path} is too large to be a contact card`);
  return readFileSync(path, 'utf8');
}

function showAdded(contact: ContactJson, json?: boolean): void {
  if (json) return printJson(contact);
  console.log(`Added ${printable(contact.name)} (${contact.id}).`);
  if (contact.addresses.length === 0)
    console.log('Their address is not known yet: they will be reached once they add you too.');
}

export async function listContacts(client: NodeClient, options: { json?: boolean }): Promise<void> {
  const contacts = await client.get<ContactJson[]>('/v1/contacts');
  if (options.json) return printJson(contacts);
  if (contacts.length === 0)
    return console.log('No contacts yet — add one with `postern contacts add <card file>`.');
  printTable([
    ['NAME', 'ONLINE', 'REPLICANTS', 'RELAYS', 'MESSAGING ID'],
    ...contacts.map((c) => [
      printable(c.name),
      c.online ? 'yes' : 'no',
      String(c.replicants),
      String(c.relays.length),
      c.id,
    ]),
  ]);
}

export async function removeContact(client: NodeClient, contact: string): Promise<void> {
  const { removed } = await client.post<{ removed: ContactJson }>('/v1/contacts/remove', { contact });
  console.log(`Removed ${printable(removed.name)}.`);
}

interface ReplicantsJson {
  mine: { name: string | null; id: string; state: string }[];
  serving: { name: string | null; id: string; state: string; held: number }[];
}

export async function replicantAction(
  client: NodeClient,
  action: 'nominate' | 'revoke' | 'accept' | 'refuse',
  contact: string,
): Promise<void> {
  const answer = await client.post<Record<string, ContactJson>>(`/v1/replicants/${action}`, { contact });
  const who = printable(answer[action]?.name ?? contact);
  const said = {
    nominate: `Asked ${who} to be your replicant; \`postern replicants list\` shows the answer.`,
    revoke: `${who} is no longer your replicant.`,
    accept: `You now hold ${who}'s messages while they are offline.`,
    refuse: `Refused to be ${who}'s replicant.`,
  };
  console.log(said[action]);
}

/** `replicants list` (yours and whom you serve) or `replicants requests` (awaiting your answer). */
export async function listReplicants(
  client: NodeClient,
  view: 'list' | 'requests',
  options: { json?: boolean },
): Promise<void> {
  const all = await client.get<ReplicantsJson>('/v1/replicants');
  const requests = all.serving.filter((s) => s.state === 'requested');
  if (options.json) return printJson(view === 'list' ? all : requests);
  const label = (r: { name: string | null; id: string }) => printable(r.name ?? r.id);
  if (view === 'requests') {
    if (requests.length === 0) return console.log('No one is asking you to be their replicant.');
    for (const r of requests)
      console.log(
        `${label(r)} asks you to hold their messages — \`postern replicants accept ${label(r)}\` or refuse`,
      );
    return;
  }
  console.log(
    all.mine.length === 0
      ? 'Your replicants: none — `postern replicants nominate <contact>`.'
      : 'Your replicants:',
  );
  if (all.mine.length > 0) printTable(all.mine.map((r) => ['  ' + label(r), r.state]));
  const serving = all.serving.filter((s) => s.state === 'serving' || s.state === 'requested');
  if (serving.length > 0) {
    console.log('You are replicant for:');
    printTable(serving.map((s) => ['  ' + label(s), s.state, `${s.held} message(s) held`]));
  }
}

export async function changeRelays(
  client: NodeClient,
  change: 'add' | 'remove',
  address: string,
): Promise<void> {
  const relays = await client.post<string[]>(change === 'add' ? '/v1/relays' : '/v1/relays/remove', {
    address,
  });
  console.log(
    change === 'add'
      ? `Added the relay; your relays: ${relays.length}.`
      : `Removed the relay; your relays: ${relays.length}.`,
  );
}

export async function listRelays(client: NodeClient, options: { json?: boolean }): Promise<void> {
  const relays = await client.get<string[]>('/v1/relays');
  if (options.json) return printJson(relays);
  if (relays.length === 0) return console.log('No relays — add one with `postern relays add <address>`.');
  for (const relay of relays) console.log(relay);
}
