import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Handled } from '@postern/relay';

/**
 * The relay's Prometheus metrics, served at /metrics. One registry per relay service, so several
 * relays in one process (tests) do not share counters.
 */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'postern_relay_requests_total',
    help: 'Requests handled, by type and outcome (ok or an error code).',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #writes = new Counter({
    name: 'postern_relay_writes_total',
    help: 'Records written and durably stored (duplicates of a stored record included).',
    registers: [this.registry],
  });
  readonly #reads = new Counter({
    name: 'postern_relay_reads_total',
    help: 'Read requests answered with a record or null.',
    registers: [this.registry],
  });
  readonly #bytes = new Counter({
    name: 'postern_relay_content_bytes_total',
    help: 'Record content bytes, by direction (written, read).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly #quota = new Counter({
    name: 'postern_relay_quota_rejections_total',
    help: 'Writes refused because the sender account was full.',
    registers: [this.registry],
  });
  readonly #disconnects = new Counter({
    name: 'postern_relay_disconnects_total',
    help: 'Connections the relay closed, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly #latency = new Histogram({
    name: 'postern_relay_request_seconds',
    help: 'Time from a request arriving to its answer being sent, by type.',
    labelNames: ['type'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly connections = new Gauge({
    name: 'postern_relay_connections_active',
    help: 'Open client connections (WebSocket and Noise).',
    registers: [this.registry],
  });

  observe(handled: Handled, seconds: number): void {
    this.#requests.inc({ type: handled.type, outcome: handled.outcome });
    this.#latency.observe({ type: handled.type }, seconds);
    if (handled.outcome === 'RELAY_QUOTA_FULL') this.#quota.inc();
    if (handled.outcome !== 'ok') return;
    if (handled.type === 'write') {
      this.#writes.inc();
      this.#bytes.inc({ direction: 'written' }, handled.bytes);
    } else if (handled.type === 'read') {
      this.#reads.inc();
      this.#bytes.inc({ direction: 'read' }, handled.bytes);
    }
  }

  disconnected(reason: string): void {
    this.#disconnects.inc({ reason });
  }
}
