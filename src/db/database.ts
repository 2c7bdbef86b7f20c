import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { isConnectionFailure } from './failures.ts';
import { DEFAULT_TRANSACTION_LIMITS, scopingAdapterFactory, setTransactionSettings, type TransactionLimits, type TransactionSettings } from './scope.ts';

/** One SQL session for administrative work (migrations), outside Prisma. */
export interface SqlSession {
  /** Runs a script of several statements. */
  exec(sql: string): Promise<void>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /** Connects as the configured user. Tenant and platform work goes through scope.ts. */
  readonly prisma: PrismaClient;
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * One statement on its own, outside Prisma and any transaction, as the configured
   * user: only for functions that decide their own role (SECURITY DEFINER), and only
   * reads: a statement whose connection died is sent once more on a fresh one.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  /** The connection pool's figures (the embedded database: its one connection). */
  readonly poolStats?: () => { total: number; idle: number; waiting: number };
  /**
   * Delivers the notifications of `channel` (NOTIFY, sent on commit) until the returned
   * function is called. On PostgreSQL it holds one dedicated session-level connection
   * (a pooler in transaction mode cannot LISTEN), reconnected with backoff;
   * `onConnected(false)` says notifications may be missed until `onConnected(true)`.
   */
  listen(channel: string, handlers: NotificationHandlers): Promise<() => Promise<void>>;
  /** Disconnects; a second call waits for the first instead of failing. */
  close(): Promise<void>;
}

export interface NotificationHandlers {
  onNotify(payload: string): void;
  onConnected?(connected: boolean): void;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** Session-level connection for LISTEN (default: databaseUrl). */
  listenUrl?: string;
  /** PGlite data directory, or 'memory://' for a throw-away database. */
  dataDir: string;
  poolSize?: number;
  /** Prepare Prisma's statements once per connection (PostgreSQL; default true). */
  preparedStatements?: boolean;
  /** How long to wait for a PostgreSQL connection before failing. */
  connectTimeoutMs?: number;
  limits?: TransactionLimits;
  /** Called with every SQL statement Prisma sends (diagnostics and statement-count tests). */
  onQuery?: (sql: string) => void;
  /** Called when a scoped transaction ends (metrics). */
  onTransactionEnd?: TransactionSettings['onEnd'];
}

function createClient(driver: PrismaPg | PrismaPGlite, onQuery?: (sql: string) => void) {
  const adapter = scopingAdapterFactory(driver, onQuery);
  if (!onQuery) return new PrismaClient({ adapter });
  const client = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  client.$on('query' as never, (event: { query: string }) => onQuery(event.query));
  return client;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = options.databaseUrl ? openPostgres(options) : await openPglite(options.dataDir, options.onQuery);
  setTransactionSettings(database.prisma, { limits: options.limits ?? DEFAULT_TRANSACTION_LIMITS, onEnd: options.onTransactionEnd });
  let closed: Promise<void> | undefined;
  return { ...database, close: () => (closed ??= database.close()) };
}

function openPostgres(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    // TCP keep-alive notices a peer that vanished without closing the connection.
    keepAlive: true,
  });
  // An idle client losing its connection must not crash the process: the pool drops
  // it (as it drops a client whose connection failed while checked out, on release).
  pool.on('error', () => {});
  const driver = new PrismaPg(pool, options.preparedStatements === false ? {} : { statementNameGenerator: preparedStatementName });
  const prisma = createClient(driver, options.onQuery);
  return {
    kind: 'postgres',
    prisma,
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    withSession: (fn) =>
      withPooledClient(pool, (client) =>
        fn({
          exec: async (sql) => {
            await client.query(sql);
          },
          query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params as unknown[])).rows as T[],
        }),
      ),
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const run = () => withPooledClient(pool, async (client) => (await client.query(sql, params as unknown[])).rows as T[]);
      try {
        return await run();
      } catch (error) {
        // The pool drops a client whose connection failed, so the second try gets a fresh one.
        if (!isConnectionFailure(error)) throw error;
        return run();
      }
    },
    async ping() {
      // A pooled connection may have died unnoticed (the pool drops it on failure):
      // only a fresh one failing too means the database does not answer.
      const answers = () => withPooledClient(pool, (client) => client.query('SELECT 1')).then(() => true, () => false);
      return (await answers()) || answers();
    },
    listen: (channel, handlers) =>
      listenPostgres(options.listenUrl ?? options.databaseUrl!, options.connectTimeoutMs ?? 5_000, channel, handlers),
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** At most this many distinct statements are prepared (per connection, the same ones). */
const MAX_PREPARED_STATEMENTS = 500;
/**
 * A statement with more arguments is a list of ids (`IN ($1, …, $n)`): its text changes
 * with the list's length, so it is seldom sent twice and is not worth keeping.
 */
const MAX_PREPARED_ARGUMENTS = 32;
const statementNames = new Map<string, string>();

/**
 * Prisma's statements are prepared once per connection, by a name derived from their
 * text: PostgreSQL then neither parses nor plans them again (planning a catalog page
 * cost about as much as running it). Lists of ids and statements past the bound go
 * unnamed, so neither this map nor a connection's prepared statements grow without end.
 */
function preparedStatementName(query: { sql: string; args: unknown[] }): string {
  const known = statementNames.get(query.sql);
  if (known !== undefined) return known;
  if (query.args.length > MAX_PREPARED_ARGUMENTS || statementNames.size >= MAX_PREPARED_STATEMENTS) return '';
  const name = `mcp_${crypto.createHash('sha256').update(query.sql).digest('base64url').slice(0, 24)}`;
  statementNames.set(query.sql, name);
  return name;
}

/**
 * Runs `fn` with a pooled client that listens for connection errors all along and is
 * released after `fn` settled, dropped when its connection failed. Not `pool.query`: it
 * releases the client from within pg's parsing of the answer, and when a termination
 * message (57P01) arrives right behind the answer, the pool has already handed the
 * client to its next user, which does not listen yet: an uncaught exception.
 */
async function withPooledClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A failure also fails the statement running, or the next one: nothing to do here.
  const ignore = () => {};
  client.on('error', ignore);
  let failure: unknown;
  try {
    return await fn(client);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    client.removeListener('error', ignore);
    client.release(isConnectionFailure(failure) ? (failure as Error) : undefined);
  }
}

const LISTEN_BACKOFF_MS = { first: 100, max: 5_000 };

async function listenPostgres(
  url: string,
  connectTimeoutMs: number,
  channel: string,
  handlers: NotificationHandlers,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoff = LISTEN_BACKOFF_MS.first;
  const connect = async () => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    const lost = () => {
      if (client !== next) return;
      client = undefined;
      next.removeAllListeners('notification');
      void next.end().catch(() => {});
      handlers.onConnected?.(false);
      schedule();
    };
    next.on('error', lost);
    next.on('end', lost);
    try {
      await next.connect();
      next.on('notification', (message) => {
        if (message.channel === channel) handlers.onNotify(message.payload ?? '');
      });
      await next.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
    } catch {
      next.removeAllListeners();
      next.on('error', () => {});
      void next.end().catch(() => {});
      schedule();
      return;
    }
    if (stopped) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
    backoff = LISTEN_BACKOFF_MS.first;
    handlers.onConnected?.(true);
  };
  const schedule = () => {
    if (stopped) return;
    retry = setTimeout(() => void connect(), backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, LISTEN_BACKOFF_MS.max);
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const current = client;
    client = undefined;
    await current?.end().catch(() => {});
  };
}

/**
 * The embedded database's settings (PGlite's start parameters, after its defaults).
 * PostgreSQL's default 128 MB of shared buffers live in PGlite's WebAssembly memory,
 * which never shrinks: once the platform catalog has been read through them they are
 * resident for good. The embedded database's working set is a few MB.
 */
export const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB'];

/**
 * Counts the callers of PGlite's statements and transactions, running or queued: they
 * take its one connection in turn (its own lock), so one of them holds it and the
 * others wait.
 */
function countCallers(client: PGlite): { count: number } {
  const callers = { count: 0 };
  const counted =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      callers.count++;
      try {
        return await run(...args);
      } finally {
        callers.count--;
      }
    };
  client.query = counted(client.query.bind(client)) as PGlite['query'];
  client.exec = counted(client.exec.bind(client));
  client.transaction = counted(client.transaction.bind(client)) as PGlite['transaction'];
  return callers;
}

async function openPglite(dataDir: string, onQuery?: (sql: string) => void): Promise<Database> {
  let lock: DirectoryLock | undefined;
  let location = dataDir;
  if (!dataDir.startsWith('memory://')) {
    fs.mkdirSync(dataDir, { recursive: true });
    lock = acquireDirectoryLock(dataDir);
    location = path.join(dataDir, 'pgdata');
  }
  // Loaded only for the embedded database, so a PostgreSQL deployment does not carry it.
  const [{ PGlite: PGliteDatabase }, { PrismaPGlite: PGliteAdapter }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter'),
  ]);
  let client: PGlite;
  try {
    client = await PGliteDatabase.create(location, { startParams: [...PGliteDatabase.defaultStartParams, ...PGLITE_SETTINGS] });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const callers = countCallers(client);
  const prisma = createClient(new PGliteAdapter(client), onQuery);
  const session: SqlSession = {
    exec: async (sql) => {
      await client.exec(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) =>
      (await client.query(sql, params)).rows as T[],
  };
  return {
    kind: 'pglite',
    prisma,
    // Its one connection: in use while any caller holds it, the other callers wait for it.
    poolStats: () => ({ total: 1, idle: callers.count === 0 ? 1 : 0, waiting: Math.max(0, callers.count - 1) }),
    withSession: (fn) => fn(session),
    query: session.query,
    async ping() {
      try {
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async listen(channel, handlers) {
      const unlisten = await client.listen(channel, handlers.onNotify);
      handlers.onConnected?.(true);
      return () => unlisten();
    },
    async close() {
      await prisma.$disconnect();
      await client.close();
      lock?.release();
    },
  };
}
