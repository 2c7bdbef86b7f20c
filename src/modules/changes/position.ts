import { AppError, badInput } from '../../graphql/errors.ts';

/**
 * A place in the change feed: the events after it are those with a larger
 * (transaction id, event id), see the migration 20261201000000_change_feed. `time` is
 * when the position was taken (an event's time, or the head's), so that a cursor older
 * than the retention can be refused without looking it up.
 */
export interface FeedPosition {
  xid: bigint;
  id: bigint;
  time: number;
}

export function comparePositions(a: Pick<FeedPosition, 'xid' | 'id'>, b: Pick<FeedPosition, 'xid' | 'id'>): number {
  if (a.xid !== b.xid) return a.xid < b.xid ? -1 : 1;
  return a.id === b.id ? 0 : a.id < b.id ? -1 : 1;
}

const CURSOR_KIND = 'changes';
const DIGITS = /^\d{1,20}$/;

export function encodeCursor(position: FeedPosition): string {
  return Buffer.from(JSON.stringify([CURSOR_KIND, String(position.xid), String(position.id), position.time]), 'utf8').toString(
    'base64url',
  );
}

/** BAD_USER_INPUT for anything that is not a change-feed cursor. */
export function decodeCursor(cursor: string, argument: string): FeedPosition {
  const invalid = () => badInput(argument, 'invalid cursor');
  if (cursor.length > 200) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || parsed[0] !== CURSOR_KIND) throw invalid();
  const [, xid, id, time] = parsed as unknown[];
  if (typeof xid !== 'string' || !DIGITS.test(xid) || typeof id !== 'string' || !DIGITS.test(id)) throw invalid();
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) throw invalid();
  return { xid: BigInt(xid), id: BigInt(id), time };
}

/** Positions taken more than a minute from now did not come from this service. */
const CLOCK_SKEW_MS = 60_000;

/**
 * Refuses a position the retention no longer covers (CURSOR_EXPIRED: the caller
 * resynchronizes) and one from the future (BAD_USER_INPUT).
 */
export function assertResumable(position: FeedPosition, retentionMs: number, argument: string, now = Date.now()): void {
  if (position.time > now + CLOCK_SKEW_MS) throw badInput(argument, 'invalid cursor');
  if (position.time < now - retentionMs) {
    throw new AppError(
      'CURSOR_EXPIRED',
      `${argument}: the cursor is older than the feed's retention; resynchronize from changeFeedHead`,
      { argument },
    );
  }
}
