import { ApiAccessError, type Json, readApiAccess } from '@postern/runtime';
import { CliError, ExitCode } from './exit-codes.ts';

/**
 * The postern command's side of the local API: finds the node running on the data directory (its
 * api.json and api.token), sends JSON, and turns the node's refusals into CliErrors.
 */
export class NodeClient {
  readonly #url: string;
  readonly #token: string;

  private constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  static open(dataDir: string): NodeClient {
    try {
      const access = readApiAccess(dataDir);
      return new NodeClient(access.url, access.token);
    } catch (error) {
      if (error instanceof ApiAccessError) throw new CliError(error.message, ExitCode.notRunning);
      throw error;
    }
  }

  get<T = Json>(path: string): Promise<T> {
    return this.#request('GET', path) as Promise<T>;
  }

  post<T = Json>(path: string, body: Record<string, unknown>): Promise<T> {
    return this.#request('POST', path, body) as Promise<T>;
  }

  /** Calls `onLine` with each JSON line of a streamed answer until the node ends it or `signal` aborts. */
  async stream(path: string, onLine: (line: Json) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.#fetch('GET', path, undefined, signal);
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body) {
      pending += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() !== '') onLine(parseLine(line));
        newline = pending.indexOf('\n');
      }
    }
  }

  async #request(method: string, path: string, body?: Record<string, unknown>): Promise<Json> {
    const response = await this.#fetch(method, path, body);
    return (await response.json()) as Json;
  }

  async #fetch(
    method: string,
    path: string,
    body?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.#url), {
        method,
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new CliError(
        `the node's API at ${this.#url} does not answer — is the node still running? (\`npm start\`)`,
        ExitCode.notRunning,
      );
    }
    if (response.ok) return response;
    const answer = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new CliError(answer.error?.message ?? `the node answered ${response.status}`);
  }
}

/** A line of a stream; one that is not JSON (a truncated write) is shown as what it is. */
function parseLine(line: string): Json {
  try {
    return JSON.parse(line) as Json;
  } catch {
    throw new CliError('the node sent a line that is not JSON — is it the same Postern version?');
  }
}
