import type { Context } from '../../graphql/context.ts';
import { comparePositions, type FeedPosition } from './position.ts';
import { readTenantFeed, type ChangeEvent, type FeedRead, type FeedView } from './feed.ts';
import { resolveSubjects, subjectOf, type Subjects } from './subjects.ts';
import { whenExpired } from '../../security/auth.ts';

/** What a subscription delivers: an event with its subject, or the end of its token. */
export type Delivery = { kind: 'event'; event: ChangeEvent; subject: object | null } | { kind: 'expired' };

/** The part of the feed this instance holds in memory, shared by its subscriptions. */
export interface FeedWindow {
  /** The visible events after `after` it holds, or null when `after` is older than what it holds. */
  eventsAfter(after: FeedPosition, view: FeedView, limit: number): FeedRead | null;
  /** The subjects of events it handed out, resolved once per organization and workspace binding. */
  subjectsOf(view: FeedView, events: readonly ChangeEvent[]): Promise<Subjects>;
  /** Calls `wake` once the window has read further (calling it earlier, or twice, is harmless). */
  whenAdvanced(wake: () => void): void;
}

export const PAGE_SIZE = 100;

/** Deliveries by the subjects map they were read with: subscribers of one view share them rather than hold a copy each. */
const deliveries = new WeakMap<Subjects, WeakMap<ChangeEvent, Delivery>>();
const NO_SUBJECTS: Subjects = new Map();

function deliveryOf(subjects: Subjects, event: ChangeEvent): Delivery {
  let byEvent = deliveries.get(subjects);
  if (!byEvent) deliveries.set(subjects, (byEvent = new WeakMap()));
  let delivery = byEvent.get(event);
  if (!delivery) byEvent.set(event, (delivery = { kind: 'event', event, subject: subjectOf(subjects, event) }));
  return delivery;
}

const later = (a: FeedPosition, b: FeedPosition) => (comparePositions(a, b) >= 0 ? a : b);

/**
 * One subscription to the feed, pulled by its transport: the next events are read only
 * when the client has taken the previous ones, so a client that stops reading holds
 * at most one page. Events come from the instance's window when it covers the
 * subscription's position, else (replaying from an older cursor) from the database at
 * the client's pace, in the subscriber's tenant transaction.
 */
export class ChangeStream implements AsyncIterableIterator<Delivery> {
  #position: FeedPosition;
  #pending: Delivery[] = [];
  #closed = false;
  #expired = false;
  /** Ends the wait for the window, when the stream waits: on close or expiry it must not wait for the next change. */
  #wake: (() => void) | undefined;
  readonly #cancelExpiry: (() => void) | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly view: FeedView,
    start: FeedPosition,
    private readonly window: FeedWindow,
    private readonly options: {
      wantsSubject: boolean;
      expiresAt: number | null;
      onClose: () => void;
      onDelivered: (event: ChangeEvent) => void;
    },
  ) {
    this.#position = start;
    if (options.expiresAt !== null) {
      this.#cancelExpiry = whenExpired(options.expiresAt, () => {
        this.#expired = true;
        this.#wake?.();
      });
    }
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<Delivery>> {
    while (!this.#closed) {
      if (this.#expired) {
        this.close();
        return { done: false, value: { kind: 'expired' } };
      }
      const next = this.#pending.shift();
      if (next) {
        if (next.kind === 'event') this.options.onDelivered(next.event);
        return { done: false, value: next };
      }
      try {
        await this.#fill();
      } catch (error) {
        if (this.#closed || this.#expired) continue;
        this.close();
        throw error;
      }
    }
    return { done: true, value: undefined };
  }

  /**
   * The events of the current page that are already read and not yet taken, without
   * waiting: a transport that writes them together makes one write of the page.
   */
  takeReady(): Delivery[] {
    const ready = this.#pending;
    this.#pending = [];
    for (const delivery of ready) if (delivery.kind === 'event') this.options.onDelivered(delivery.event);
    return ready;
  }

  async return(): Promise<IteratorResult<Delivery>> {
    this.close();
    return { done: true, value: undefined };
  }

  /** Ends the stream: the transport completes it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#cancelExpiry?.();
    this.#wake?.();
    this.options.onClose();
  }

  async #fill(): Promise<void> {
    const fromWindow = this.window.eventsAfter(this.#position, this.view, PAGE_SIZE);
    const read =
      fromWindow ?? (await this.ctx.db.transaction((tx) => readTenantFeed(tx, this.view, this.#position, PAGE_SIZE, null)));
    if (read.events.length === 0) {
      const caughtUp = comparePositions(read.readThrough, this.#position) <= 0;
      this.#position = later(this.#position, read.readThrough);
      // Replaying from the database stops once it reaches what the window holds.
      if ((fromWindow || caughtUp) && !this.#closed && !this.#expired) {
        // A resolver, not an AbortSignal's listener: no listener added and removed per change per subscriber.
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.window.whenAdvanced(resolve);
        });
        this.#wake = undefined;
      }
      return;
    }
    let subjects = NO_SUBJECTS;
    if (this.options.wantsSubject) {
      // Fields of the subjects resolve with this request's loaders: never from an earlier state.
      this.ctx.loaders.clear();
      subjects = fromWindow ? await this.window.subjectsOf(this.view, read.events) : await resolveSubjects(this.ctx, read.events);
    }
    if (this.#closed) return;
    this.#pending = read.events.map((event) => deliveryOf(subjects, event));
    this.#position = later(read.events.at(-1)!.position, read.readThrough);
  }
}
