// The summary table: one row per seed, fixed column widths so rows print as runs finish.

export interface Row {
  readonly seed: number;
  readonly nodes: number;
  readonly events: number;
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly unexpected: number;
  readonly recovered: number;
  readonly invariants: string;
  readonly liveness: string;
  readonly simSeconds: number;
  readonly wallSeconds: number;
  readonly eventsPerSec: number;
  readonly hash: string;
  readonly ok: boolean;
}

const COLUMNS: readonly { title: string; width: number; cell: (r: Row) => string }[] = [
  { title: 'seed', width: 10, cell: (r) => String(r.seed) },
  { title: 'nodes', width: 7, cell: (r) => String(r.nodes) },
  { title: 'events', width: 11, cell: (r) => String(r.events) },
  { title: 'sent', width: 10, cell: (r) => String(r.sent) },
  { title: 'delivered', width: 10, cell: (r) => String(r.delivered) },
  { title: 'lost', width: 5, cell: (r) => String(r.lost) },
  { title: 'dup', width: 5, cell: (r) => String(r.duplicated) },
  { title: 'unexp', width: 5, cell: (r) => String(r.unexpected) },
  { title: 'recov', width: 5, cell: (r) => String(r.recovered) },
  { title: 'invariants', width: 10, cell: (r) => r.invariants },
  { title: 'converged', width: 9, cell: (r) => r.liveness },
  { title: 'sim s', width: 8, cell: (r) => r.simSeconds.toFixed(1) },
  { title: 'wall s', width: 7, cell: (r) => r.wallSeconds.toFixed(2) },
  { title: 'events/s', width: 9, cell: (r) => rate(r.eventsPerSec) },
  { title: 'trace hash', width: 16, cell: (r) => r.hash },
  { title: 'result', width: 6, cell: (r) => (r.ok ? 'ok' : 'FAIL') },
];

export function formatHeader(): string {
  return COLUMNS.map((c) => c.title.padStart(c.width)).join('  ');
}

export function formatRow(row: Row): string {
  return COLUMNS.map((c) => c.cell(row).padStart(c.width)).join('  ');
}

function rate(perSec: number): string {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M` : `${(perSec / 1e3).toFixed(0)}k`;
}
