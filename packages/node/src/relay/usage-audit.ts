import type { Millis, Result } from '@postern/core';
import {
  type Ack,
  type ClientFailure,
  type UsageEntry,
  type UsageReport,
  auditDeliveries,
  parsePath,
} from '@postern/relay';
import { type Link, type MailboxCore, earliest } from './core.ts';

interface Asked {
  readonly link: Link;
  readonly entries: UsageEntry[];
  afterTs: number;
  /** Pages answered so far. */
  pages: number;
  done: boolean;
  /** When to ask again: the relay's listing had not settled up to the audit's end. */
  retryAt: number | undefined;
}

interface Run {
  readonly id: number;
  /** The window's end, fixed when the audit starts (wall clock). */
  readonly beforeTs: number;
  readonly deadline: number;
  /** One per relay key, however many of its addresses the user lists. */
  readonly relays: Map<string, Asked>;
  readonly unreachable: string[];
  readonly partial: string[];
  entries: number;
}

/**
 * Seed 003's audit, as the sender runs it: each own relay's usage report (what it will charge for
 * this user's records) over the last 62 days up to the audit's start, paged, set beside the
 * acknowledgements the receivers wrote (`auditDeliveries`). A relay whose listing has not settled
 * that far yet is asked again a second later; by the deadline, one that answered part is listed as
 * partial, one that answered nothing as unreachable.
 */
export class UsageAudit {
  readonly #c: MailboxCore;
  readonly #acks: () => readonly Ack[];
  #run: Run | undefined;
  #next = 1;

  constructor(core: MailboxCore, acks: () => readonly Ack[]) {
    this.#c = core;
    this.#acks = acks;
  }

  start(now: Millis): number | undefined {
    if (this.#run !== undefined) return undefined;
    const c = this.#c;
    const run: Run = {
      id: this.#next++,
      beforeTs: c.m.wall(now),
      deadline: now + c.limits.auditTimeoutMs,
      relays: new Map(),
      unreachable: [],
      partial: [],
      entries: 0,
    };
    this.#run = run;
    const up = new Map(c.ownUp().map((link) => [link.keyHex, link]));
    for (const link of up.values()) {
      const afterTs = Math.max(0, run.beforeTs - link.session.limits.usageRetentionMs);
      run.relays.set(link.keyHex, { link, entries: [], afterTs, pages: 0, done: false, retryAt: undefined });
    }
    for (const address of c.own()) {
      const link = c.links.get(address);
      if (link === undefined || !up.has(link.keyHex)) run.unreachable.push(address);
    }
    for (const asked of run.relays.values()) this.#ask(run, asked, now);
    this.#finish(run);
    return run.id;
  }

  onUsage(link: Link, id: number, result: Result<unknown, ClientFailure>, now: Millis): void {
    const run = this.#run;
    const asked = run?.relays.get(link.keyHex);
    if (run === undefined || run.id !== id || asked === undefined || asked.done) return;
    if (!result.ok) return this.#give(run, asked);
    const report = result.value as UsageReport;
    asked.pages++;
    for (const entry of report.usage) {
      const path = parsePath(entry.path);
      if (!path.ok || run.entries >= this.#c.limits.auditEntriesMax) continue;
      asked.entries.push({ receiver: entry.receiver, path: path.value, ts: entry.ts, bytes: entry.bytes });
      run.entries++;
    }
    const through = report.throughTs;
    if (report.complete || through >= run.beforeTs || run.entries >= this.#c.limits.auditEntriesMax) {
      asked.done = true;
    } else if (through > asked.afterTs) {
      asked.afterTs = through;
      this.#ask(run, asked, now);
    } else {
      asked.retryAt = now + this.#c.limits.auditRetryMs; // not settled that far yet
    }
    this.#finish(run);
  }

  handleTimeout(now: Millis): void {
    const run = this.#run;
    if (run === undefined) return;
    for (const asked of run.relays.values()) {
      if (asked.done) continue;
      if (now >= run.deadline) this.#give(run, asked, false);
      else if (asked.retryAt !== undefined && asked.retryAt <= now) this.#ask(run, asked, now);
    }
    this.#finish(run);
  }

  nextTimeout(): number | undefined {
    const run = this.#run;
    if (run === undefined) return undefined;
    return earliest(run.deadline, ...[...run.relays.values()].map((a) => (a.done ? undefined : a.retryAt)));
  }

  #ask(run: Run, asked: Asked, now: Millis): void {
    asked.retryAt = undefined;
    const body = { type: 'RequestUsage', afterTs: asked.afterTs, beforeTs: run.beforeTs } as const;
    if (!this.#c.request(asked.link, body, { kind: 'usage', audit: run.id }, now))
      this.#give(run, asked, false);
  }

  /**
   * This relay could not be asked, or stopped answering: what it answered counts, and it is listed
   * as partial (a relay whose clock is behind ours may not settle up to the audit's end in time);
   * one that answered nothing is unreachable.
   */
  #give(run: Run, asked: Asked, finish = true): void {
    asked.done = true;
    (asked.pages > 0 ? run.partial : run.unreachable).push(asked.link.address);
    if (finish) this.#finish(run);
  }

  #finish(run: Run): void {
    if ([...run.relays.values()].some((a) => !a.done) || this.#run !== run) return;
    this.#run = undefined;
    const usage = [...run.relays.values()].map((a) => ({ relay: a.link.key, entries: a.entries }));
    const rows = auditDeliveries(usage, this.#acks());
    const { unreachable, partial } = run;
    this.#c.emit({ type: 'relay-audit', audit: run.id, rows, unreachable, partial });
  }
}
