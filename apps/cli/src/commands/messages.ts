import { INBOX_PAGE_MAX, type Json } from '@postern/runtime';
import { CliError, ExitCode } from '../exit-codes.ts';
import type { NodeClient } from '../node-client.ts';
import { Spinner, delay, formatTime, printJson, printable, seconds } from '../output.ts';

interface MessageJson {
  key: string;
  from: string | null;
  fromId: string;
  text: string | null;
  sentAt: number;
  receivedAt?: number;
  via: string;
}

const STATE_WORDS: Record<string, string> = {
  queued: 'queued (not yet taken by anyone)',
  stored: 'stored (held by a replicant or relay until they come online)',
  delivered: 'delivered (their node sent a signed receipt)',
  expired: 'expired (never delivered)',
};

/** `send <contact> <text>`: prints the delivery state; with --wait, follows it until delivered. */
export async function send(
  client: NodeClient,
  to: string,
  text: string,
  options: { wait?: boolean; timeout: string; json?: boolean },
): Promise<void> {
  const timeoutMs = seconds(options.timeout) * 1000; // checked before anything is sent
  const sent = await client.post<{ key: string; to: string; state: string }>('/v1/send', { to, text });
  if (!options.wait) {
    if (options.json) return printJson(sent);
    return console.log(`Message ${sent.key} to ${sent.to}: ${STATE_WORDS[sent.state] ?? sent.state}`);
  }
  const spinner = new Spinner();
  const deadline = Date.now() + timeoutMs;
  let state = sent.state;
  for (let i = 0; i < 1_000_000; i++) {
    if (!options.json) spinner.update(`to ${sent.to}: ${STATE_WORDS[state] ?? state}`);
    if (state === 'delivered' || state === 'expired' || Date.now() >= deadline) break;
    await delay(200);
    state = (await client.get<{ state: string }>(`/v1/outbox/${encodeURIComponent(sent.key)}`)).state;
  }
  spinner.stop();
  if (options.json) printJson({ ...sent, state });
  else console.log(`Message ${sent.key} to ${sent.to}: ${STATE_WORDS[state] ?? state}`);
  if (state === 'expired') throw new CliError('the message expired undelivered: the node has given up on it');
  if (state !== 'delivered')
    throw new CliError(`not delivered within ${options.timeout} s; the node keeps trying`, ExitCode.timedOut);
}

/** `inbox`: the messages received, oldest first; --follow keeps printing new ones until Ctrl-C. */
export async function inbox(
  client: NodeClient,
  options: { follow?: boolean; json?: boolean; remove?: string },
): Promise<void> {
  if (options.remove !== undefined) {
    await client.post('/v1/inbox/remove', { key: options.remove });
    return console.log('Removed the message from your inbox.');
  }
  const show = (line: Json) => {
    const m = line as unknown as MessageJson;
    if (options.json) return console.log(JSON.stringify(m));
    const when = formatTime(m.receivedAt ?? Date.now());
    const text = m.text === null ? '[not text]' : printable(m.text);
    console.log(`${when}  ${printable(m.from ?? m.fromId)}  (via ${m.via})  ${text}  [${shortKey(m.key)}]`);
  };
  if (options.follow) return follow(client, show);
  const messages: MessageJson[] = [];
  // Page by page (the node answers at most INBOX_PAGE_MAX at once); bounded by the inbox's own cap.
  for (let page = 0; page < 10_000; page++) {
    const got = await client.get<MessageJson[]>(
      `/v1/inbox?offset=${messages.length}&limit=${INBOX_PAGE_MAX}`,
    );
    messages.push(...got);
    if (got.length < INBOX_PAGE_MAX) break;
  }
  if (options.json) return printJson(messages);
  if (messages.length === 0) return console.log('No messages.');
  for (const m of messages) show(m as unknown as Json);
}

async function follow(client: NodeClient, show: (line: Json) => void): Promise<void> {
  const ended = () =>
    new CliError('the node ended the stream (it stopped, or this reader fell behind)', ExitCode.notRunning);
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  try {
    await client.stream('/v1/inbox?follow=1', show, stop.signal);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    throw error instanceof CliError ? error : ended();
  } finally {
    process.off('SIGINT', interrupt);
  }
  if (!stop.signal.aborted) throw ended();
}

/** What `inbox` shows of a key (`sender:id`): the start of the id, enough for `--remove`. */
function shortKey(key: string): string {
  return (key.split(':')[1] ?? key).slice(0, 12);
}
