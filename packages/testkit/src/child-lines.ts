import type { ChildProcess } from 'node:child_process';

/**
 * The JSON lines a child process prints (one object per line; other lines are ignored), awaited by
 * event: each new line, or the process's exit, wakes the waiters — never a poll. A wait is bounded
 * by an abort signal (real processes run in real time). A restarted process is attached again and
 * its lines join the same list.
 */
export class ChildJsonLines<L extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly lines: L[] = [];
  stderr = '';
  readonly #waitMs: number;
  #child: ChildProcess | undefined;
  #waiters: (() => void)[] = [];

  constructor(name: string, waitMs = 60_000) {
    this.name = name;
    this.#waitMs = waitMs;
  }

  get child(): ChildProcess | undefined {
    return this.#child;
  }

  attach(child: ChildProcess): void {
    this.#child = child;
    let buffered = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      buffered += text;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.startsWith('{')) this.lines.push(JSON.parse(part) as L);
      this.#wake();
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    child.once('exit', () => this.#wake());
  }

  /** The first line from index `from` on that matches. */
  async waitFor(match: (line: L) => boolean, from = 0): Promise<L> {
    const signal = AbortSignal.timeout(this.#waitMs);
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (signal.aborted || this.#child?.exitCode !== null) {
        throw new Error(
          `${this.name}: no matching line (exit ${this.#child?.exitCode}); stderr: ${this.stderr}`,
        );
      }
      await Promise.race([aborted, new Promise<void>((resolve) => this.#waiters.push(resolve))]);
    }
  }

  /** Sends a signal (SIGKILL: kill -9) and resolves with the exit code once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null)
      return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
