import crypto from 'node:crypto';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Database } from '../../db/database.ts';
import { scopedTransaction, type Tx } from '../../db/scope.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { SecretBox } from '../../security/crypto.ts';
import type { OpenSocket, Resolve } from '../../security/outbound-guard.ts';
import { guardedRequest, type OutboundResult } from '../../security/outbound-http.ts';
import { payloadOf, webhookId, type DeliveredEvent } from './payload.ts';
import { signatureHeader, signingSecrets } from './secrets.ts';

export interface DispatcherOptions {
  timeoutMs: number;
  /** Delay before each retry; after the last one a delivery is FAILED. */
  retryScheduleMs: readonly number[];
  disableAfterMs: number;
  secretOverlapMs: number;
  leaseMs: number;
  /** Endpoints delivered to at once by this instance. */
  concurrency: number;
  denyPrivateNetworks: boolean;
  /** Deliveries are pruned with the feed's events. */
  retentionMs: number;
}

/** What the outbound client connects through; tests stub the resolver and the socket. */
export interface Outbound {
  resolve?: Resolve;
  openSocket?: OpenSocket;
}

/** Notified on commit when deliveries were queued (the outbox trigger, replays): wakes every instance's dispatcher. */
export const WEBHOOKS_CHANNEL = 'mcp_webhooks';
/** SPEC §19: at most 64 KiB of an answer is read. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Deliveries of one endpoint claimed at once (sent one after another, in feed order). */
const BATCH_SIZE = 50;
/** An attempt starts only while the lease still covers its timeout and this margin. */
const LEASE_MARGIN_MS = 1_000;
/** The longest a 429/503's Retry-After may push an attempt back. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** Safety net while idle: a lost notification delays delivery by this much at most. */
const IDLE_WAKE_MS = 30_000;
/** Retries while a delivery waits for an older transaction to end (see the claim). */
const HELD_RETRY_MS = { first: 10, max: 1_000 };
const PRUNE_MARGIN_MS = 60_000;
const PRUNE_BATCH = 5_000;
const MAX_ERROR_LENGTH = 500;

export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'gone';

interface ClaimedRow {
  endpoint_id: string;
  url: string;
  encrypted_secret: Uint8Array;
  secret_rotated_at: Date | null;
  id: string | null;
  event_id: bigint | null;
  event_xid: bigint | null;
  subject_type: string | null;
  action: string | null;
  subject_id: string | null;
  workspace_id: string | null;
  occurred_at: Date | null;
  attempts: number | null;
}

interface Delivery extends DeliveredEvent {
  id: string;
  /** Attempts made before this one. */
  attempts: number;
}

interface EndpointBatch {
  endpointId: string;
  url: string;
  encryptedSecret: Uint8Array;
  secretRotatedAt: Date | null;
  deliveries: Delivery[];
}

interface FinishedBatch {
  batch: EndpointBatch;
  results: AttemptResult[];
  gone: boolean;
  /** Failed unexpectedly: what was not attempted keeps its lease (see #deliver). */
  broken: boolean;
  recorded: () => void;
}

interface AttemptResult {
  id: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  nextAttemptAt: Date | null;
  responseStatus: number | null;
  error: string | null;
  attemptedAt: Date;
}

/** The delay a 429/503 asks for (seconds or an HTTP date), or 0. */
function retryAfterMs(header: string | string[] | undefined, now: number): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 0;
  if (/^\s*\d+\s*$/.test(value)) return Math.min(Number(value) * 1_000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

/**
 * Delivers the webhook outbox (SPEC §19). Deliveries are claimed in the database with a
 * lease: an instance takes a few endpoints at once (FOR UPDATE SKIP LOCKED on the
 * endpoint, whose lease also says no other instance sends to it meanwhile) and up to
 * BATCH_SIZE of each one's due deliveries in feed order, and sends them one after
 * another, each attempt only while the lease still covers it: each attempt is made by
 * exactly one instance, and an instance that dies leaves its deliveries to be tried
 * again once its lease ends. A failed attempt is rescheduled on the retry schedule, so
 * it never holds back the endpoint's later events. The outbox's NOTIFY, delivered with
 * the commit of the feed events that queued deliveries, wakes the dispatcher; while
 * idle it sleeps until the next retry or lease end is due.
 */
export class WebhookDispatcher {
  readonly #database: Database;
  readonly #logger: Logger;
  readonly #secretBox: SecretBox;
  readonly #metrics?: Metrics;
  readonly options: DispatcherOptions;
  /** Tests connect through stubs (a resolver, a socket opener). */
  outbound: Outbound = {};
  readonly #owner = crypto.randomUUID();

  #started = false;
  #closed = false;
  #claiming = false;
  #claimAgain = false;
  #claimRun?: Promise<void>;
  #closing?: Promise<void>;
  readonly #active = new Map<string, Promise<void>>();
  /** Batches sent and waiting to be recorded (see #flushRecords). */
  readonly #toRecord: FinishedBatch[] = [];
  #recording = false;
  #unlisten?: () => Promise<void>;
  #wakeTimer?: NodeJS.Timeout;
  #heldDelay = HELD_RETRY_MS.first;
  #retention?: NodeJS.Timeout;

  constructor(database: Database, logger: Logger, secretBox: SecretBox, options: DispatcherOptions, metrics?: Metrics) {
    this.#database = database;
    this.#logger = logger.child({ component: 'webhooks' });
    this.#secretBox = secretBox;
    this.options = options;
    this.#metrics = metrics;
  }

  /** Starts delivering: listens to the outbox's notifications, prunes with the feed's retention, and claims what is due. */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#unlisten = await this.#database.listen(WEBHOOKS_CHANNEL, {
      onNotify: () => this.wake(),
      // Whatever committed while disconnected is claimed now.
      onConnected: (connected) => connected && this.wake(),
    });
    const every = Math.max(1_000, Math.min(this.options.retentionMs / 10, 15 * 60_000));
    this.#retention = setInterval(() => {
      this.prune().catch((error: unknown) => this.#logger.warn({ err: error }, 'webhook delivery pruning failed'));
    }, every);
    this.#retention.unref();
    this.wake();
  }

  /** Claims what is due now (calls while a claim runs coalesce into one more). */
  wake(): void {
    if (!this.#started || this.#closed) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = true;
    this.#claimRun = this.#claimLoop().finally(() => (this.#claiming = false));
  }

  async #claimLoop(): Promise<void> {
    try {
      do {
        this.#claimAgain = false;
        const slots = this.options.concurrency - this.#active.size;
        if (slots <= 0) return;
        const claimedAt = performance.now();
        const { batches, nextDue, held } = await scopedTransaction(this.#database.prisma, { kind: 'webhooks' }, (tx) => this.#claim(tx, slots));
        for (const batch of batches) {
          const run = this.#deliver(batch, claimedAt).finally(() => {
            this.#active.delete(batch.endpointId);
            this.wake();
          });
          this.#active.set(batch.endpointId, run);
        }
        if (batches.length === 0) this.#sleepUntil(nextDue, held);
      } while (this.#claimAgain && !this.#closed);
    } catch (error) {
      if (this.#closed) return;
      this.#logger.warn({ err: error }, 'claiming webhook deliveries failed; retrying shortly');
      this.#sleepUntil(Date.now() + 1_000, false);
    }
  }

  /**
   * Takes up to `slots` endpoints with due deliveries that no live lease holds, and up to
   * BATCH_SIZE of each one's due deliveries in feed order, below the feed's readable end
   * (change_feed_bound): no event can commit before them any more, so first attempts
   * follow the feed's order even when transactions commit out of it. When nothing was
   * claimed, says when the next delivery will be due.
   */
  async #claim(tx: Tx, slots: number): Promise<{ batches: EndpointBatch[]; nextDue: number | null; held: boolean }> {
    const lease = `${this.options.leaseMs} milliseconds`;
    const rows = await tx.$queryRaw<ClaimedRow[]>`
      WITH bound AS (SELECT change_feed_bound()::text::bigint AS xid),
      -- Enabled endpoints with a due delivery, probed one by one (an index range each):
      -- a disabled endpoint's waiting deliveries, or a backlog, are never scanned whole.
      picked AS (
        SELECT w.id FROM webhook_endpoint w, bound
         WHERE w.enabled AND (w.lease_until IS NULL OR w.lease_until < now())
           AND EXISTS (SELECT 1 FROM webhook_delivery d
                        WHERE d.endpoint_id = w.id AND d.status = 'PENDING' AND d.next_attempt_at <= now()
                          AND d.event_xid < bound.xid AND (d.lease_until IS NULL OR d.lease_until < now()))
         ORDER BY w.lease_until NULLS FIRST LIMIT ${slots}
         -- Not FOR UPDATE: that would wait for, and hold up, writers whose new deliveries
         -- take a key-share lock on their endpoint.
         FOR NO KEY UPDATE OF w SKIP LOCKED
      ),
      leased AS (
        UPDATE webhook_endpoint w SET lease_owner = ${this.#owner}::uuid, lease_until = now() + ${lease}::interval
          FROM picked WHERE w.id = picked.id
        RETURNING w.id, w.url, w.encrypted_secret, w.secret_rotated_at
      ),
      batch AS (
        SELECT b.id FROM leased l, bound CROSS JOIN LATERAL (
          SELECT d.id FROM webhook_delivery d
           WHERE d.endpoint_id = l.id AND d.status = 'PENDING' AND d.next_attempt_at <= now() AND d.event_xid < bound.xid
             AND (d.lease_until IS NULL OR d.lease_until < now())
           ORDER BY d.event_xid, d.event_id LIMIT ${BATCH_SIZE}) b
      ),
      claimed AS (
        UPDATE webhook_delivery d SET lease_owner = ${this.#owner}::uuid, lease_until = now() + ${lease}::interval
          FROM batch WHERE d.id = batch.id
        RETURNING d.*
      )
      SELECT l.id::text AS endpoint_id, l.url, l.encrypted_secret, l.secret_rotated_at,
             c.id::text AS id, c.event_id, c.event_xid, c.subject_type, c.action, c.subject_id::text AS subject_id,
             c.workspace_id::text AS workspace_id, c.occurred_at, c.attempts
        FROM leased l LEFT JOIN claimed c ON c.endpoint_id = l.id
       ORDER BY l.id, c.event_xid, c.event_id`;
    const batches = new Map<string, EndpointBatch>();
    for (const row of rows) {
      let batch = batches.get(row.endpoint_id);
      if (!batch) {
        batch = { endpointId: row.endpoint_id, url: row.url, encryptedSecret: row.encrypted_secret, secretRotatedAt: row.secret_rotated_at, deliveries: [] };
        batches.set(row.endpoint_id, batch);
      }
      if (row.id === null) continue;
      batch.deliveries.push({
        id: row.id,
        endpointId: row.endpoint_id,
        eventId: BigInt(row.event_id!),
        eventXid: BigInt(row.event_xid!),
        subjectType: row.subject_type!,
        action: row.action!,
        subjectId: row.subject_id,
        workspaceId: row.workspace_id,
        occurredAt: row.occurred_at!,
        attempts: row.attempts!,
      });
    }
    if (batches.size > 0) return { batches: [...batches.values()], nextDue: null, held: false };
    // The next retry due, the end of a lease held elsewhere, and whether a due delivery
    // waits for an older transaction to end (each an index probe, never a scan of the backlog).
    const [next] = await tx.$queryRaw<{ next_due: Date | null; held: boolean | null }[]>`
      SELECT least((SELECT min(d.next_attempt_at) FROM webhook_delivery d WHERE d.status = 'PENDING' AND d.next_attempt_at > now()),
                   (SELECT min(w.lease_until) FROM webhook_endpoint w WHERE w.enabled AND w.lease_until > now())) AS next_due,
             EXISTS (SELECT 1 FROM webhook_endpoint w, (SELECT change_feed_bound()::text::bigint AS xid) bound
                      WHERE w.enabled AND EXISTS (SELECT 1 FROM webhook_delivery d
                                                   WHERE d.endpoint_id = w.id AND d.status = 'PENDING' AND d.event_xid >= bound.xid)) AS held`;
    return { batches: [], nextDue: next?.next_due?.getTime() ?? null, held: next?.held ?? false };
  }

  /** Sleeps until `due` (at most IDLE_WAKE_MS), or briefly while a delivery waits for an older transaction. */
  #sleepUntil(due: number | null, held: boolean): void {
    clearTimeout(this.#wakeTimer);
    if (this.#closed) return;
    let delay = IDLE_WAKE_MS;
    if (held) {
      delay = this.#heldDelay;
      this.#heldDelay = Math.min(this.#heldDelay * 2, HELD_RETRY_MS.max);
    } else {
      this.#heldDelay = HELD_RETRY_MS.first;
      if (due !== null) delay = Math.min(IDLE_WAKE_MS, Math.max(10, due - Date.now()));
    }
    this.#wakeTimer = setTimeout(() => this.wake(), delay);
    this.#wakeTimer.unref();
  }

  /** Sends one endpoint's batch in order, then hands its outcomes to the recorder; resolves once they are recorded. */
  async #deliver(batch: EndpointBatch, claimedAt: number): Promise<void> {
    const results: AttemptResult[] = [];
    let gone = false;
    let broken = false;
    let secrets: string[] | undefined;
    try {
      for (const delivery of batch.deliveries) {
        const leaseLeft = this.options.leaseMs - (performance.now() - claimedAt);
        if (this.#closed || gone || leaseLeft < this.options.timeoutMs + LEASE_MARGIN_MS) break;
        secrets ??= signingSecrets(this.#secretBox, batch.encryptedSecret, batch.secretRotatedAt, this.options.secretOverlapMs);
        const result = await this.#attempt(batch, delivery, secrets);
        results.push(result);
        if (result.responseStatus === 410) gone = true;
      }
    } catch (error) {
      // A secret that cannot be opened (a key missing from DB_ENCRYPTION_KEYS_PREVIOUS),
      // say: the rest of the batch keeps its lease, so it is tried again when the lease
      // ends rather than at once, over and over.
      broken = true;
      this.#logger.warn({ err: error, endpointId: batch.endpointId }, 'webhook delivery failed unexpectedly; retrying when the lease ends');
    }
    if (gone) this.#logger.warn({ endpointId: batch.endpointId }, 'webhook endpoint answered 410 Gone: disabling it');
    const recorded = Promise.withResolvers<void>();
    this.#toRecord.push({ batch, results, gone, broken, recorded: recorded.resolve });
    this.#flushRecords();
    return recorded.promise;
  }

  /**
   * Records every finished batch waiting, in one transaction of one statement (batches
   * finishing meanwhile wait for the next one): the database work per delivery stays
   * small however many endpoints finish at once.
   */
  #flushRecords(): void {
    if (this.#recording || this.#toRecord.length === 0) return;
    this.#recording = true;
    const finished = this.#toRecord.splice(0);
    void scopedTransaction(this.#database.prisma, { kind: 'webhooks' }, (tx) => this.#record(tx, finished))
      .catch((error: unknown) => {
        // The leases end by themselves: the deliveries not recorded are tried again then.
        this.#logger.warn({ err: error }, 'could not record webhook attempts; they will be retried');
      })
      .finally(() => {
        this.#recording = false;
        for (const entry of finished) entry.recorded();
        this.#flushRecords();
      });
  }

  /** One POST, as a span of its own (the outbound client adds traceparent). Never throws. */
  async #attempt(batch: EndpointBatch, delivery: Delivery, secrets: string[]): Promise<AttemptResult> {
    const id = webhookId(delivery.endpointId, delivery.eventId);
    const body = payloadOf(delivery);
    const tracer = trace.getTracer('model-control-plane');
    return tracer.startActiveSpan(
      'webhook attempt',
      { kind: SpanKind.CLIENT, attributes: { 'webhook.delivery_id': delivery.id, 'webhook.endpoint_id': delivery.endpointId, 'webhook.attempt': delivery.attempts + 1 } },
      async (span) => {
        const started = performance.now();
        const timestamp = Math.floor(Date.now() / 1000);
        let response: OutboundResult;
        try {
          response = await guardedRequest(batch.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'user-agent': 'model-control-plane-webhooks',
              'webhook-id': id,
              'webhook-timestamp': String(timestamp),
              'webhook-signature': signatureHeader(secrets, id, timestamp, body),
            },
            body,
            timeoutMs: this.options.timeoutMs,
            maxResponseBytes: MAX_RESPONSE_BYTES,
            denyPrivateNetworks: this.options.denyPrivateNetworks,
            resolve: this.outbound.resolve,
            openSocket: this.outbound.openSocket,
          });
        } catch (error) {
          response = { ok: false, reason: 'unreachable', error: 'could not send the request' };
          this.#logger.warn({ err: error, deliveryId: delivery.id }, 'webhook attempt failed unexpectedly');
        }
        const now = Date.now();
        const result = this.#judge(delivery, response, now);
        const outcome: DeliveryOutcome =
          result.status === 'SUCCEEDED' ? 'succeeded' : result.responseStatus === 410 ? 'gone' : result.status === 'FAILED' ? 'failed' : 'retrying';
        this.#metrics?.webhookAttempted(outcome, (performance.now() - started) / 1000);
        if (response.ok) span.setAttribute('http.response.status_code', response.status);
        if (outcome !== 'succeeded') span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? undefined });
        span.setAttribute('webhook.outcome', outcome);
        span.end();
        return result;
      },
    );
  }

  /** What an answer makes of the delivery: done, retried on the schedule (or Retry-After), or FAILED. */
  #judge(delivery: Delivery, response: OutboundResult, now: number): AttemptResult {
    const attemptedAt = new Date(now);
    if (response.ok && response.status >= 200 && response.status < 300) {
      return { id: delivery.id, status: 'SUCCEEDED', nextAttemptAt: null, responseStatus: response.status, error: null, attemptedAt };
    }
    const responseStatus = response.ok ? response.status : null;
    const error = (
      !response.ok
        ? response.error
        : response.status >= 300 && response.status < 400
          ? `answered a redirect (HTTP ${response.status}); redirects are not followed`
          : `answered HTTP ${response.status}`
    ).slice(0, MAX_ERROR_LENGTH);
    if (responseStatus === 410) return { id: delivery.id, status: 'FAILED', nextAttemptAt: null, responseStatus, error, attemptedAt };
    const delay = this.options.retryScheduleMs[delivery.attempts];
    if (delay === undefined) return { id: delivery.id, status: 'FAILED', nextAttemptAt: null, responseStatus, error, attemptedAt };
    const asked = response.ok && (response.status === 429 || response.status === 503) ? retryAfterMs(response.headers['retry-after'], now) : 0;
    return { id: delivery.id, status: 'PENDING', nextAttemptAt: new Date(now + Math.max(delay, asked)), responseStatus, error, attemptedAt };
  }

  /**
   * Records the batches' attempts, releases what was not attempted, and updates each
   * endpoint: its last success, since when it fails, and whether it is disabled now
   * (GONE on a 410; FAILING after WEBHOOK_DISABLE_AFTER_HOURS without a success).
   */
  async #record(tx: Tx, finished: FinishedBatch[]): Promise<void> {
    const results = finished.flatMap((entry) => entry.results);
    const attempted = new Set(results.map((result) => result.id));
    const unattempted = finished
      .filter((entry) => !entry.broken)
      .flatMap((entry) => entry.batch.deliveries.filter((delivery) => !attempted.has(delivery.id)).map((delivery) => delivery.id));
    const endpoints = finished.map(({ batch, results: outcomes, gone, broken }) => {
      const lastSuccess = outcomes.findLast((result) => result.status === 'SUCCEEDED');
      // The first failure after the last success: the endpoint fails since then.
      const failingFrom = outcomes.slice(lastSuccess ? outcomes.lastIndexOf(lastSuccess) + 1 : 0).find((result) => result.status !== 'SUCCEEDED');
      return {
        id: batch.endpointId,
        lastSuccessAt: lastSuccess?.attemptedAt.toISOString() ?? null,
        failingFrom: failingFrom?.attemptedAt.toISOString() ?? null,
        gone,
        keepLease: broken,
      };
    });
    const disableBefore = new Date(Date.now() - this.options.disableAfterMs);
    const column = <T, V>(rows: T[], pick: (row: T) => V) => rows.map(pick);
    await tx.$executeRaw`
      WITH r AS (
        SELECT * FROM unnest(${column(results, (r) => r.id)}::uuid[], ${column(results, (r) => r.status)}::text[],
                             ${column(results, (r) => r.nextAttemptAt?.toISOString() ?? null)}::timestamptz[], ${column(results, (r) => r.responseStatus)}::int[],
                             ${column(results, (r) => r.error)}::text[], ${column(results, (r) => r.attemptedAt.toISOString())}::timestamptz[])
               AS r(id, status, next_attempt_at, response_status, error, attempted_at)
      ),
      attempted AS (
        UPDATE webhook_delivery d
           SET status = r.status::webhook_delivery_status, attempts = d.attempts + 1,
               next_attempt_at = coalesce(r.next_attempt_at, d.next_attempt_at), last_attempt_at = r.attempted_at,
               last_response_status = r.response_status, last_error = r.error, lease_owner = NULL, lease_until = NULL
          FROM r WHERE d.id = r.id AND d.lease_owner = ${this.#owner}::uuid
      ),
      released AS (
        UPDATE webhook_delivery d SET lease_owner = NULL, lease_until = NULL
         WHERE d.id = ANY (${unattempted}::uuid[]) AND d.lease_owner = ${this.#owner}::uuid
      ),
      e AS (
        SELECT * FROM unnest(${column(endpoints, (e) => e.id)}::uuid[], ${column(endpoints, (e) => e.lastSuccessAt)}::timestamptz[],
                             ${column(endpoints, (e) => e.failingFrom)}::timestamptz[], ${column(endpoints, (e) => e.gone)}::boolean[],
                             ${column(endpoints, (e) => e.keepLease)}::boolean[])
               AS e(id, last_success_at, failing_from, gone, keep_lease)
      ),
      state AS (
        SELECT e.*, CASE WHEN e.failing_from IS NULL THEN (CASE WHEN e.last_success_at IS NOT NULL THEN NULL ELSE w.failing_since END)
                         WHEN e.last_success_at IS NOT NULL THEN e.failing_from
                         ELSE coalesce(w.failing_since, e.failing_from) END AS failing_since
          FROM e JOIN webhook_endpoint w ON w.id = e.id
      )
      UPDATE webhook_endpoint w
         SET lease_owner = CASE WHEN s.keep_lease THEN w.lease_owner END,
             lease_until = CASE WHEN s.keep_lease THEN w.lease_until END,
             last_success_at = coalesce(s.last_success_at, w.last_success_at),
             failing_since = s.failing_since,
             enabled = w.enabled AND NOT s.gone AND NOT coalesce(s.failing_since < ${disableBefore}, false),
             disabled_reason = CASE WHEN NOT w.enabled THEN w.disabled_reason
                                    WHEN s.gone THEN 'GONE'::webhook_disabled_reason
                                    WHEN s.failing_since < ${disableBefore} THEN 'FAILING'::webhook_disabled_reason END
        FROM state s
       WHERE w.id = s.id AND w.lease_owner = ${this.#owner}::uuid`;
  }

  /**
   * Pending deliveries of enabled endpoints and the age of the oldest, for the metrics (a
   * disabled endpoint's deliveries wait for it to be enabled again, not for the service).
   */
  async pending(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const [row] = await scopedTransaction(this.#database.prisma, { kind: 'webhooks' }, (tx) =>
      tx.$queryRaw<{ count: bigint; oldest: Date | null }[]>`
        SELECT count(*) AS count, min(d.created_at) AS oldest
          FROM webhook_delivery d JOIN webhook_endpoint w ON w.id = d.endpoint_id
         WHERE d.status = 'PENDING' AND w.enabled`,
    );
    return { count: Number(row?.count ?? 0), oldestAgeSeconds: row?.oldest ? Math.max(0, (Date.now() - row.oldest.getTime()) / 1000) : 0 };
  }

  /** Deletes deliveries older than the feed's retention (and its margin); returns how many. */
  async prune(now = Date.now()): Promise<number> {
    const before = new Date(now - this.options.retentionMs - PRUNE_MARGIN_MS);
    let total = 0;
    for (;;) {
      const deleted = await scopedTransaction(this.#database.prisma, { kind: 'webhooks' }, (tx) =>
        tx.$executeRaw`DELETE FROM webhook_delivery WHERE id IN (
          SELECT id FROM webhook_delivery WHERE created_at < ${before} ORDER BY created_at LIMIT ${PRUNE_BATCH})`,
      );
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  /** Stops claiming, lets the attempts in flight finish and records them (shutdown). */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      clearTimeout(this.#wakeTimer);
      clearInterval(this.#retention);
      await this.#unlisten?.().catch(() => {});
      // A claim in flight may still hand out batches: they stop before their first attempt.
      await this.#claimRun?.catch(() => {});
      await Promise.allSettled([...this.#active.values()]);
    })();
    return this.#closing;
  }
}
