import { badInput } from './errors.ts';

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

export type SortValue = string | Date;

/** One column of a keyset ordering; the last one must be unique (the id). */
export interface SortKey<Row> {
  field: keyof Row & string;
  direction: 'asc' | 'desc';
  kind: 'string' | 'date';
}

/** A named keyset ordering. The name is part of every cursor, so a cursor of one
 *  connection or ordering is refused by another instead of silently misread. */
export interface Ordering<Row> {
  name: string;
  keys: readonly SortKey<Row>[];
}

export interface Edge<Row> {
  cursor: string;
  node: Row;
}

export interface Connection<Row> {
  edges: Edge<Row>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** Counted only when the caller asks for it. */
  totalCount: () => Promise<number>;
}

export interface PageQuery {
  /** Prisma `where` fragment that selects rows beyond the cursor(s); undefined for none. */
  where: Record<string, unknown> | undefined;
  orderBy: Record<string, 'asc' | 'desc'>[];
  take: number;
}

export function encodeCursor<Row>(ordering: Ordering<Row>, row: Row): string {
  const values = ordering.keys.map((key) => {
    const value = row[key.field] as unknown;
    return value instanceof Date ? value.toISOString() : value;
  });
  return Buffer.from(JSON.stringify([ordering.name, ...values]), 'utf8').toString('base64url');
}

function decodeCursor<Row>(ordering: Ordering<Row>, cursor: string, argument: string): SortValue[] {
  const invalid = () => badInput(argument, 'invalid cursor');
  if (cursor.length > 2048) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== ordering.keys.length + 1 || parsed[0] !== ordering.name) {
    throw invalid();
  }
  return ordering.keys.map((key, index) => {
    const value = parsed[index + 1];
    if (typeof value !== 'string' || value.length > 1000) throw invalid();
    if (key.kind === 'date') {
      const date = new Date(value);
      if (Number.isNaN(date.getTime()) || date.toISOString() !== value) throw invalid();
      return date;
    }
    return value;
  });
}

/**
 * Rows strictly beyond `values` in the ordering (or before them when `reverse`), as
 * `a >= x AND NOT (a = x AND NOT <beyond in the remaining keys>)`. Equivalent to
 * `a > x OR (a = x AND …)`, but PostgreSQL estimates this form well and scans the
 * index from the cursor on; for the OR form it misjudged deep pages and sorted
 * thousands of rows instead.
 */
function beyond<Row>(keys: readonly SortKey<Row>[], values: readonly SortValue[], reverse: boolean): Record<string, unknown> {
  const [lead, ...rest] = keys;
  const ascending = (lead!.direction === 'asc') !== reverse;
  if (rest.length === 0) return { [lead!.field]: { [ascending ? 'gt' : 'lt']: values[0] } };
  return {
    AND: [
      { [lead!.field]: { [ascending ? 'gte' : 'lte']: values[0] } },
      { NOT: { [lead!.field]: values[0], NOT: beyond(rest, values.slice(1), reverse) } },
    ],
  };
}

/** A page size argument: absent, or 1 to MAX_PAGE_SIZE (else BAD_USER_INPUT). */
export function pageSize(value: number | null | undefined, argument: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw badInput(argument, `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return value;
}

/** The page as decoded values, for queries written in SQL rather than as a Prisma `where`. */
export interface Keyset {
  /** Rows strictly beyond these sort values (the `after` cursor), in the ordering. */
  after?: SortValue[];
  /** Rows strictly before these (the `before` cursor). */
  before?: SortValue[];
  /** True for `last`: the rows are fetched in reverse order (and reversed back by `build`). */
  backward: boolean;
  take: number;
}

export interface ConnectionPlan<Row> {
  query: PageQuery;
  keyset: Keyset;
  /** Turns the fetched rows (in query order) into the connection. */
  build(rows: Row[], totalCount: () => Promise<number>): Connection<Row>;
}

/**
 * Plans one keyset page: validates the arguments, builds the `where`/`orderBy`/`take`
 * to run, and shapes the fetched rows into a Relay connection. Fetching one row more
 * than asked tells whether another page exists.
 */
export function planConnection<Row>(ordering: Ordering<Row>, args: ConnectionArgs): ConnectionPlan<Row> {
  const first = pageSize(args.first, 'first');
  const last = pageSize(args.last, 'last');
  if (first !== undefined && last !== undefined) throw badInput('first', 'give either first or last, not both');
  const backward = last !== undefined;
  const size = first ?? last ?? DEFAULT_PAGE_SIZE;

  const after = args.after == null ? undefined : decodeCursor(ordering, args.after, 'after');
  const before = args.before == null ? undefined : decodeCursor(ordering, args.before, 'before');
  const bounds: Record<string, unknown>[] = [];
  if (after) bounds.push(beyond(ordering.keys, after, false));
  if (before) bounds.push(beyond(ordering.keys, before, true));

  const orderBy = ordering.keys.map((key) => ({
    [key.field]: (key.direction === 'asc') !== backward ? 'asc' : 'desc',
  })) as Record<string, 'asc' | 'desc'>[];

  return {
    query: {
      where: bounds.length === 0 ? undefined : bounds.length === 1 ? bounds[0] : { AND: bounds },
      orderBy,
      take: size + 1,
    },
    keyset: { after, before, backward, take: size + 1 },
    build(rows, totalCount) {
      const hasMore = rows.length > size;
      const page = rows.slice(0, size);
      if (backward) page.reverse();
      const edges = page.map((node) => ({ cursor: encodeCursor(ordering, node), node }));
      return {
        edges,
        pageInfo: {
          hasNextPage: backward ? args.before != null : hasMore,
          hasPreviousPage: backward ? hasMore : args.after != null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
        totalCount,
      };
    },
  };
}

/** Combines Prisma `where` fragments with AND, skipping empty ones. */
export function whereAll(...parts: (Record<string, unknown> | undefined)[]): Record<string, unknown> {
  const present = parts.filter((p): p is Record<string, unknown> => p !== undefined && Object.keys(p).length > 0);
  return present.length === 0 ? {} : present.length === 1 ? present[0]! : { AND: present };
}

/**
 * Runs a planned page with Prisma-style `findMany`/`count` functions. The count
 * uses the filter alone, not the cursor bounds.
 */
export async function paginate<Row>(
  ordering: Ordering<Row>,
  args: ConnectionArgs,
  filter: Record<string, unknown>,
  findMany: (query: { where: Record<string, unknown>; orderBy: Record<string, 'asc' | 'desc'>[]; take: number }) => Promise<Row[]>,
  count: (query: { where: Record<string, unknown> }) => Promise<number>,
): Promise<Connection<Row>> {
  const plan = planConnection(ordering, args);
  const rows = await findMany({ where: whereAll(filter, plan.query.where), orderBy: plan.query.orderBy, take: plan.query.take });
  let counted: Promise<number> | undefined;
  return plan.build(rows, () => (counted ??= count({ where: filter })));
}

/** The usual listing order: newest first, id as tie-breaker. */
export function newestFirst<Row extends { createdAt: Date; id: string }>(name: string): Ordering<Row> {
  return {
    name,
    keys: [
      { field: 'createdAt', direction: 'desc', kind: 'date' },
      { field: 'id', direction: 'desc', kind: 'string' },
    ],
  };
}
