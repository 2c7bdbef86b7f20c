/*
 * Failures of the database rather than of the request, classified in one place: the
 * connection is gone or cannot be had, or a statement or transaction ran out of time.
 */

// Node socket errors, and Prisma's codes for an unreachable database, a closed
// connection and an exhausted pool.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'P1001', 'P1002', 'P1017', 'P2024',
]);
// The driver adapter's kinds for the same.
const CONNECTION_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// SQLSTATE classes 08 (connection exception) and 57 (operator intervention: shutdown,
// termination, crash recovery), except 57014, a cancelled statement; 53300 too many connections.
const CONNECTION_SQLSTATE = /^(08...|57(?!014)...|53300)$/;
// What pg says about a connection that died or never came.
const CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended unexpectedly/i;

const CANCELLED_CODES = new Set(['57014', 'P2028']);
const CANCELLED_MESSAGES = /statement timeout|canceling statement|Transaction already closed|expired transaction/i;

// pg refuses a query on a connection it already knows is dead, without sending it.
const NEVER_SENT = /not queryable/i;

interface Described {
  code?: unknown;
  originalCode?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/** The error and what it wraps: causes, graphql's original errors, Prisma's driver adapter errors. */
function* chain(error: unknown): Generator<Described> {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 8; depth++) {
    const described = current as Described;
    yield described;
    current = described.cause ?? described.meta?.driverAdapterError ?? described.originalError;
  }
}

const codeOf = (part: Described) => (typeof part.code === 'string' ? part.code : typeof part.originalCode === 'string' ? part.originalCode : '');
const messageOf = (part: Described) => (typeof part.message === 'string' ? part.message : '');

/** The connection to the database is gone or could not be had. */
export function isConnectionFailure(error: unknown): boolean {
  for (const part of chain(error)) {
    const code = codeOf(part);
    if (CONNECTION_CODES.has(code) || CONNECTION_SQLSTATE.test(code)) return true;
    if (typeof part.kind === 'string' && CONNECTION_KINDS.has(part.kind)) return true;
    if (CONNECTION_MESSAGES.test(messageOf(part))) return true;
  }
  return false;
}

/** A statement or a transaction ran out of time and was cancelled. */
export function isCancellation(error: unknown): boolean {
  for (const part of chain(error)) {
    if (CANCELLED_CODES.has(codeOf(part)) || CANCELLED_MESSAGES.test(messageOf(part))) return true;
  }
  return false;
}

/** Whether PostgreSQL refused a statement with one of these SQLSTATEs (raw queries carry them in the driver's error). */
export function hasSqlState(error: unknown, ...states: string[]): boolean {
  for (const part of chain(error)) if (states.includes(codeOf(part))) return true;
  return false;
}

/** A query refused by the driver because its connection was already dead: it never reached the server. */
export function wasNeverSent(error: unknown): boolean {
  for (const part of chain(error)) if (NEVER_SENT.test(messageOf(part))) return true;
  return false;
}

/**
 * What happened to a transaction whose connection was lost: `not-committed` when it was
 * lost before COMMIT was sent (the server rolls it back), `unknown` when it was lost
 * while COMMIT was in flight.
 */
export type LostOutcome = 'not-committed' | 'unknown';

/** A transaction lost its database connection; `cause` is the driver's error. */
export class ConnectionLost extends Error {
  constructor(
    readonly outcome: LostOutcome,
    cause: unknown,
  ) {
    super(outcome === 'unknown' ? 'database connection lost while committing' : 'database connection lost', { cause });
  }
}

/** Runs `run` once more, on a fresh connection, when its transaction was lost before COMMIT was sent. */
export async function retryOnceIfLost<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConnectionLost && error.outcome === 'not-committed') return run();
    throw error;
  }
}
