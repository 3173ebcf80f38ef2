import { CliError } from './exit-codes.ts';

/** Printing for the postern command: tables for people, JSON for programs, a spinner on terminals. */

/**
 * Text from others (a message, a contact's name) made safe for a terminal: control and invisible
 * characters (escape sequences, carriage returns, direction overrides) are shown as \u{…}, and each
 * new line is indented, so nothing sent can rewrite the screen or pass for another line.
 */
export function printable(text: string): string {
  return text
    .replace(/\r\n|\n/g, '\n    ')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) =>
      c === '\n' ? c : `\\u{${c.codePointAt(0)?.toString(16)}}`,
    );
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Rows of cells, each column padded to its widest cell. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner with a status text on stderr while something is awaited, when stderr is a terminal;
 * otherwise each new status is printed once as a line, so logs and tests still see the progress.
 */
export class Spinner {
  readonly #tty = process.stderr.isTTY === true;
  #text = '';
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;

  update(text: string): void {
    if (text === this.#text) return;
    this.#text = text;
    if (!this.#tty) return void process.stderr.write(`${text}\n`);
    this.#timer ??= setInterval(() => this.#draw(), 80);
    this.#draw();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) process.stderr.write('\r\x1b[2K');
  }

  #draw(): void {
    this.#frame = (this.#frame + 1) % FRAMES.length;
    process.stderr.write(`\r\x1b[2K${FRAMES[this.#frame]} ${this.#text}`);
  }
}

/** `--timeout` and the like: a positive number of seconds. */
export function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > 86_400)
    throw new CliError(`a timeout is a number of seconds (up to a day), not "${text}"`);
  return value;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function formatTime(wallMs: number): string {
  return new Date(wallMs).toISOString().replace('T', ' ').slice(0, 19);
}
