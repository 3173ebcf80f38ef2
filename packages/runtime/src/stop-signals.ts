// How a long-running program (a node, a relay) stops on Ctrl-C, SIGTERM or SIGHUP.
//
// One Ctrl-C often arrives more than once: the terminal sends it to the whole process group, and a
// parent in that group (npm, a tsx or `postern relay` wrapper) forwards it again. The handlers must
// therefore stay installed while the program stops: a signal with no handler left kills the process
// mid-stop, before it has closed its database and removed its files. Repeats are ignored; a stop
// that hangs is ended after a deadline, so Ctrl-C always ends the program.

export interface StopSignalsOptions {
  signals?: readonly NodeJS.Signals[];
  /** How long a stop may take before the process is ended anyway. */
  deadlineMs?: number;
  /** Said (once) when the stop passes its deadline, before the process exits with code 1. */
  onHang?: (deadlineMs: number) => void;
}

export const STOP_DEADLINE_MS = 20_000;

/**
 * Calls `stop` on the first of `signals`; later ones are ignored. Returns a function that starts
 * the same stop without a signal (for a program ending itself) — also at most once.
 */
export function stopOnSignals(stop: () => Promise<void>, options: StopSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const deadlineMs = options.deadlineMs ?? STOP_DEADLINE_MS;
  let stopping = false;
  const begin = () => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => {
      options.onHang?.(deadlineMs);
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    // Whatever the stop's outcome, its caller reports it; the deadline only guards a hang.
    stop().then(
      () => clearTimeout(deadline),
      () => clearTimeout(deadline),
    );
  };
  for (const signal of signals) process.on(signal, begin);
  return begin;
}
