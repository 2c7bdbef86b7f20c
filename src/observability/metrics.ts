import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export type TransactionOutcome = 'commit' | 'rollback';
export type DiscoveryKind = 'refresh' | 'validate';
export type RefusedLimit = 'requests' | 'subscriptions_per_actor' | 'subscriptions_per_instance';

/** Node's default figures describe the process rather than one service instance, so they are collected once per process. */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The service's own figures (docs/operating.md, "Metrics"), next to the GraphQL figures that
 * yoga's Prometheus plugin writes into the same registry. Every label value comes from
 * a fixed set: no organization, token subject or argument value is ever a label.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly #transactions = new Histogram({
    name: 'mcp_db_transaction_duration_seconds',
    help: 'Database transactions, from asking for a connection to commit or rollback, by scope (tenant, platform, feed) and outcome',
    labelNames: ['scope', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly #discoveries = new Histogram({
    name: 'mcp_discovery_duration_seconds',
    help: 'Model discovery requests to custom providers (refresh, validate) by outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly #deliveryLag = new Histogram({
    name: 'mcp_change_feed_delivery_lag_seconds',
    help: 'Time from a change event being written to its delivery to a subscriber',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly #refused = new Counter({
    name: 'mcp_rate_limited_total',
    help: 'Requests and subscriptions refused with RATE_LIMITED, by the limit that refused them',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly #webhookAttempts = new Histogram({
    name: 'mcp_webhook_attempt_duration_seconds',
    help: 'Webhook delivery attempts by outcome (succeeded, retrying, failed: retries exhausted, gone: 410)',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** One attempt: its `_count` by outcome is the deliveries by outcome (SPEC §19), its buckets their durations. */
  webhookAttempted(outcome: string, seconds: number): void {
    this.#webhookAttempts.observe({ outcome }, seconds);
  }

  /** Pending webhook deliveries and the age of the oldest, read from the database when scraped. */
  watchWebhooks(pending: () => Promise<{ count: number; oldestAgeSeconds: number }>): void {
    let reading: Promise<{ count: number; oldestAgeSeconds: number }> | undefined;
    let last = { count: 0, oldestAgeSeconds: 0 };
    // One read serves both gauges of a scrape; while the database does not answer, the last figures stand.
    const read = () =>
      (reading ??= pending()
        .then((figures) => (last = figures), () => last)
        .finally(() => setImmediate(() => (reading = undefined))));
    new Gauge({
      name: 'mcp_webhook_deliveries_pending',
      help: 'Webhook deliveries waiting for an attempt or a retry (every instance)',
      registers: [this.registry],
      async collect() {
        this.set((await read()).count);
      },
    });
    new Gauge({
      name: 'mcp_webhook_oldest_pending_age_seconds',
      help: 'Age of the oldest pending webhook delivery (every instance); 0 when none',
      registers: [this.registry],
      async collect() {
        this.set((await read()).oldestAgeSeconds);
      },
    });
  }

  transactionEnded(scope: string, outcome: TransactionOutcome, seconds: number): void {
    this.#transactions.observe({ scope, outcome }, seconds);
  }

  discoveryFinished(kind: DiscoveryKind, outcome: string, seconds: number): void {
    this.#discoveries.observe({ kind, outcome }, seconds);
  }

  delivered(lagMs: number): void {
    this.#deliveryLag.observe(Math.max(0, lagMs) / 1000);
  }

  refused(limit: RefusedLimit): void {
    this.#refused.inc({ limit });
  }

  /** Open subscriptions, read when scraped. */
  watchSubscriptions(open: () => number): void {
    new Gauge({
      name: 'mcp_subscriptions_open',
      help: 'Subscriptions open on this instance (SSE and WebSocket)',
      registers: [this.registry],
      collect() {
        this.set(open());
      },
    });
  }

  /** The database's connections (PostgreSQL's pool, the embedded database's one), read when scraped. */
  watchPool(stats: () => PoolStats): void {
    new Gauge({
      name: 'mcp_db_pool_connections',
      help: 'Connections of the database pool by state (in_use, idle)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const { total, idle } = stats();
        this.set({ state: 'in_use' }, total - idle);
        this.set({ state: 'idle' }, idle);
      },
    });
    new Gauge({
      name: 'mcp_db_pool_waiting',
      help: 'Callers waiting for a connection of the database pool',
      registers: [this.registry],
      collect() {
        this.set(stats().waiting);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text of this instance and of the process. */
  async text(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }
}
