import { LRUCache } from 'lru-cache';
import type { Database } from '../../db/database.ts';
import { scopedTransaction } from '../../db/scope.ts';
import { RequestDb, type Context } from '../../graphql/context.ts';
import { AppError } from '../../graphql/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Principal } from '../../security/auth.ts';
import type { Services } from '../../services.ts';
import { feedHead, isVisible, pruneFeed, readWholeFeed, type ChangeEvent, type FeedRead, type FeedView } from './feed.ts';
import { comparePositions, type FeedPosition } from './position.ts';
import { ChangeStream, type FeedWindow } from './stream.ts';
import { resolveSubjects, type Subjects } from './subjects.ts';
import { SubscriptionGroups } from './shared-execution.ts';

export const CHANGE_FEED_CHANNEL = 'mcp_change_feed';

export interface ChangeFeedOptions {
  retentionMs: number;
  maxSubscriptions: number;
  maxSubscriptionsPerActor: number;
  /** Safety-net poll while notifications arrive: a lost notification only delays. */
  pollMs: number;
  /** Poll while the notification connection is down. */
  offlinePollMs: number;
  /** Events held in memory for the instance's subscriptions. */
  windowSize: number;
}

/** Events older than the retention plus this margin are deleted (see assertResumable). */
const PRUNE_MARGIN_MS = 60_000;
const PRUNE_BATCH = 5_000;
const READ_BATCH = 1_000;
/** Subscriptions woken per turn of the event loop when the window advances. */
const WAKE_SLICE = 200;
const MAX_FAN_OUT_PAUSE_MS = 250;
/** Retries while a notified transaction is still below an older one in flight. */
const PENDING_RETRY_MS = { first: 10, max: 1_000 };

interface WindowEvent {
  event: ChangeEvent;
  /** Which read brought it: subjects are resolved once per read and view. */
  read: number;
}

/**
 * The change feed of one service instance. Every subscription of the instance reads
 * from one in-memory window of the feed, which one reader refreshes when a commit's
 * NOTIFY arrives (from any instance; PostgreSQL delivers it on commit only), on a
 * slow poll as a safety net, and faster while the notification connection is down:
 * the database work per committed change is one read per instance, whatever the number
 * of subscribers. Subjects are resolved once per read and organization (and workspace
 * binding), and shared by that organization's subscribers.
 */
export class ChangeFeed implements FeedWindow {
  readonly #services: () => Services;
  readonly #database: Database;
  readonly #logger: Logger;
  readonly options: ChangeFeedOptions;

  #started?: Promise<void>;
  #window: WindowEvent[] = [];
  /** Every event before this position is in the window or was before `#floor`. */
  #readThrough: FeedPosition = { xid: 0n, id: 0n, time: 0 };
  /** The window holds every event after this position (up to #readThrough). */
  #floor: FeedPosition = { xid: 0n, id: 0n, time: 0 };
  #reads = 0;
  #reading = false;
  #readAgain = false;
  #notifiedXid = 0n;
  #pendingRetry?: NodeJS.Timeout;
  #pendingDelay = PENDING_RETRY_MS.first;
  #poll?: NodeJS.Timeout;
  #listening = false;
  #unlisten?: () => Promise<void>;
  /** The subscriptions waiting for the window to read further. */
  #waiting: (() => void)[] = [];
  #wakingUp = false;
  #wakeAgain = false;
  #retention?: NodeJS.Timeout;
  #closed = false;

  readonly #streams = new Set<ChangeStream>();
  readonly #perActor = new Map<string, number>();
  readonly #subjects = new LRUCache<string, Promise<Subjects>>({ max: 256 });
  /** Subscribers that would receive the same bytes, executed together (see shared-execution.ts). */
  readonly groups = new SubscriptionGroups();
  /** Called with how long after its commit an event reached a subscriber. */
  onDelivered?: (lagMs: number) => void;

  constructor(database: Database, logger: Logger, options: ChangeFeedOptions, services: () => Services) {
    this.#database = database;
    this.#logger = logger.child({ component: 'change-feed' });
    this.options = options;
    this.#services = services;
  }

  get openSubscriptions(): number {
    return this.#streams.size;
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Opens a subscription from `start` (exclusive). RATE_LIMITED beyond the per-actor and
   * per-instance limits; the open ones are not affected.
   */
  async subscribe(ctx: Context, view: FeedView, start: FeedPosition, wantsSubject: boolean): Promise<ChangeStream> {
    if (this.#closed) throw new AppError('RATE_LIMITED', 'the service is shutting down; reconnect to another instance', { retryAfter: 1 });
    const actor = `${ctx.principal.organizationId}:${ctx.principal.subject}`;
    const actorCount = this.#perActor.get(actor) ?? 0;
    if (actorCount >= this.options.maxSubscriptionsPerActor) {
      this.#services().metrics?.refused('subscriptions_per_actor');
      throw new AppError('RATE_LIMITED', `at most ${this.options.maxSubscriptionsPerActor} open subscriptions per token subject`, {
        limit: this.options.maxSubscriptionsPerActor,
      });
    }
    if (this.#streams.size >= this.options.maxSubscriptions) {
      this.#services().metrics?.refused('subscriptions_per_instance');
      throw new AppError('RATE_LIMITED', 'this instance has no room for more subscriptions; retry shortly', {
        limit: this.options.maxSubscriptions,
        retryAfter: 1,
      });
    }
    this.#perActor.set(actor, actorCount + 1);
    let stream: ChangeStream | undefined;
    const release = () => {
      const count = (this.#perActor.get(actor) ?? 1) - 1;
      if (count > 0) this.#perActor.set(actor, count);
      else this.#perActor.delete(actor);
      if (stream) this.#streams.delete(stream);
    };
    try {
      await this.#start();
    } catch (error) {
      release();
      throw error;
    }
    stream = new ChangeStream(ctx, view, start, this, {
      wantsSubject,
      expiresAt: ctx.principal.expiresAt,
      onClose: release,
      onDelivered: (event) => this.onDelivered?.(Date.now() - event.occurredAt.getTime()),
    });
    this.#streams.add(stream);
    return stream;
  }

  // ---------------------------------------------------------------- the window

  eventsAfter(after: FeedPosition, view: FeedView, limit: number): FeedRead | null {
    if (this.#started === undefined || comparePositions(after, this.#floor) < 0) return null;
    const events: ChangeEvent[] = [];
    let through = this.#readThrough;
    for (let i = this.#firstAfter(after); i < this.#window.length; i++) {
      const { event } = this.#window[i]!;
      if (!isVisible(event, view)) continue;
      if (events.length === limit) {
        through = events.at(-1)!.position;
        break;
      }
      events.push(event);
    }
    return { events, readThrough: through };
  }

  subjectsOf(view: FeedView, events: readonly ChangeEvent[]): Promise<Subjects> {
    const reads = new Set(events.map((event) => this.#readOf(event)));
    // One read (the usual page): its shared map as it is, not a copy per subscriber.
    if (reads.size === 1) return this.#subjectsOfRead(view, [...reads][0]!);
    return Promise.all([...reads].map((read) => this.#subjectsOfRead(view, read))).then(
      (maps) => new Map(maps.flatMap((map) => [...map])),
    );
  }

  #subjectsOfRead(view: FeedView, read: number): Promise<Subjects> {
    const key = `${view.organizationId}|${view.boundWorkspaceId ?? ''}|${read}`;
    let shared = this.#subjects.get(key);
    if (!shared) {
      const visible = this.#window
        .filter((entry) => entry.read === read && isVisible(entry.event, { ...view, filter: { subjectTypes: null, workspaceId: null } }))
        .map((entry) => entry.event);
      shared = resolveSubjects(this.#readerContext(view), visible);
      shared.catch(() => this.#subjects.delete(key));
      this.#subjects.set(key, shared);
    }
    return shared;
  }

  whenAdvanced(wake: () => void): void {
    this.#waiting.push(wake);
  }

  /**
   * Wakes the subscriptions that waited, a slice per turn of the event loop: ten
   * thousand of them woken at once would hold it for the whole fan-out, and every
   * request and transaction of the instance with it. One fan-out at a time: what the
   * window read meanwhile goes out in the next one, so a subscription is woken once
   * per fan-out however many reads it took, and writes their events together.
   */
  #wakeWaiting(): void {
    if (this.#wakingUp) {
      this.#wakeAgain = true;
      return;
    }
    const woken = this.#waiting;
    this.#waiting = [];
    this.#wakingUp = true;
    const began = Date.now();
    let next = 0;
    const slice = () => {
      const end = Math.min(next + WAKE_SLICE, woken.length);
      while (next < end) woken[next++]!();
      if (next < woken.length) {
        setImmediate(slice);
        return;
      }
      // A fan-out that took long is followed by as long a pause: the instance's other
      // work gets its turn, and the next fan-out carries more events per write.
      const pause = Math.min(Date.now() - began, MAX_FAN_OUT_PAUSE_MS);
      const again = () => {
        this.#wakingUp = false;
        if (!this.#wakeAgain) return;
        this.#wakeAgain = false;
        this.#wakeWaiting();
      };
      if (pause > 0) setTimeout(again, pause).unref();
      else setImmediate(again);
    };
    slice();
  }

  #readOf(event: ChangeEvent): number {
    return this.#window[this.#firstAfter(event.position) - 1]?.read ?? -1;
  }

  /** Index of the first window event after `position` (binary search). */
  #firstAfter(position: FeedPosition): number {
    let low = 0;
    let high = this.#window.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (comparePositions(this.#window[middle]!.event.position, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** A context that reads subjects as the subscribers of `view` may see them. */
  #readerContext(view: FeedView): Context {
    const services = this.#services();
    const principal: Principal = {
      subject: 'change-feed',
      actorType: 'SERVICE',
      organizationId: view.organizationId,
      workspaceId: view.boundWorkspaceId,
      scopes: ['agent:read'],
      expiresAt: null,
    };
    return {
      requestId: 'change-feed',
      principal,
      logger: this.#logger,
      services,
      db: new RequestDb(this.#database.prisma, principal),
      loaders: new Map(),
    };
  }

  #start(): Promise<void> {
    this.#started ??= (async () => {
      const head = await scopedTransaction(this.#database.prisma, { kind: 'feed' }, feedHead);
      this.#readThrough = head;
      this.#floor = head;
      this.#unlisten = await this.#database.listen(CHANGE_FEED_CHANNEL, {
        onNotify: (payload) => {
          if (/^\d{1,20}$/.test(payload) && BigInt(payload) > this.#notifiedXid) this.#notifiedXid = BigInt(payload);
          this.#refresh();
        },
        onConnected: (connected) => {
          this.#listening = connected;
          this.#schedulePoll();
          // Whatever committed while disconnected is read now.
          if (connected) this.#refresh();
        },
      });
      this.#schedulePoll();
    })();
    this.#started.catch(() => (this.#started = undefined));
    return this.#started;
  }

  #schedulePoll(): void {
    clearInterval(this.#poll);
    if (this.#closed) return;
    this.#poll = setInterval(() => this.#refresh(), this.#listening ? this.options.pollMs : this.options.offlinePollMs);
    this.#poll.unref();
  }

  /** Reads what committed since the last read; concurrent calls coalesce into one more read. */
  #refresh(): void {
    if (this.#closed || this.#started === undefined) return;
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = true;
    void this.#readLoop().finally(() => {
      this.#reading = false;
    });
  }

  async #readLoop(): Promise<void> {
    try {
      do {
        this.#readAgain = false;
        const read = await scopedTransaction(this.#database.prisma, { kind: 'feed' }, (tx) =>
          readWholeFeed(tx, this.#readThrough, READ_BATCH),
        );
        const advanced = read.events.length > 0 || comparePositions(read.readThrough, this.#readThrough) > 0;
        if (read.events.length > 0) {
          const id = ++this.#reads;
          for (const event of read.events) this.#window.push({ event, read: id });
          this.#trim();
        }
        if (comparePositions(read.readThrough, this.#readThrough) > 0) this.#readThrough = read.readThrough;
        if (read.events.length === READ_BATCH) this.#readAgain = true;
        if (advanced) this.#wakeWaiting();
      } while (this.#readAgain && !this.#closed);
      this.#retryWhilePending();
    } catch (error) {
      if (!this.#closed) this.#logger.warn({ err: error }, 'change feed read failed; retrying on the next wake-up');
    }
  }

  /**
   * A notification can arrive while an older transaction is still open: its events are
   * readable once that one ends, which may send no notification of its own.
   */
  #retryWhilePending(): void {
    clearTimeout(this.#pendingRetry);
    if (this.#notifiedXid < this.#readThrough.xid) {
      this.#pendingDelay = PENDING_RETRY_MS.first;
      return;
    }
    this.#pendingRetry = setTimeout(() => this.#refresh(), this.#pendingDelay);
    this.#pendingRetry.unref();
    this.#pendingDelay = Math.min(this.#pendingDelay * 2, PENDING_RETRY_MS.max);
  }

  /** Keeps the newest `windowSize` events; older ones are replayed from the database. */
  #trim(): void {
    const excess = this.#window.length - this.options.windowSize;
    if (excess <= 0) return;
    this.#floor = this.#window[excess - 1]!.event.position;
    this.#window.splice(0, excess);
  }

  // ---------------------------------------------------------------- retention and lifecycle

  /** Deletes events past the retention (and its margin); returns how many. */
  async prune(now = Date.now()): Promise<number> {
    const before = new Date(now - this.options.retentionMs - PRUNE_MARGIN_MS);
    let total = 0;
    for (;;) {
      const deleted = await scopedTransaction(this.#database.prisma, { kind: 'feed' }, (tx) => pruneFeed(tx, before, PRUNE_BATCH));
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  /** Prunes periodically (a tenth of the retention, at most every 15 minutes). */
  startRetention(): void {
    const every = Math.max(1_000, Math.min(this.options.retentionMs / 10, 15 * 60_000));
    this.#retention = setInterval(() => {
      this.prune().then(
        (deleted) => deleted > 0 && this.#logger.info({ deleted }, 'change feed pruned'),
        (error: unknown) => this.#logger.warn({ err: error }, 'change feed pruning failed'),
      );
    }, every);
    this.#retention.unref();
  }

  /** Completes every subscription and stops reading (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    clearInterval(this.#retention);
    clearTimeout(this.#pendingRetry);
    for (const stream of [...this.#streams]) stream.close();
    await this.#unlisten?.().catch(() => {});
  }
}
