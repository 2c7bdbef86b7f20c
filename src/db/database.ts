import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { scopingAdapterFactory, setTransactionLimits, type TransactionLimits } from './scope.ts';

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
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  /** PGlite data directory, or 'memory://' for a throw-away database. */
  dataDir: string;
  poolSize?: number;
  /** How long to wait for a PostgreSQL connection before failing. */
  connectTimeoutMs?: number;
  limits?: TransactionLimits;
  /** Called with every SQL statement Prisma sends (diagnostics and statement-count tests). */
  onQuery?: (sql: string) => void;
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
  if (options.limits) setTransactionLimits(database.prisma, options.limits);
  return database;
}

function openPostgres(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const prisma = createClient(new PrismaPg(pool), options.onQuery);
  return {
    kind: 'postgres',
    prisma,
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (sql) => {
            await client.query(sql);
          },
          query: async <T>(sql: string, params?: unknown[]) =>
            (await client.query(sql, params as unknown[])).rows as T[],
        });
      } finally {
        client.release();
      }
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
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
    client = await PGliteDatabase.create(location);
  } catch (error) {
    lock?.release();
    throw error;
  }
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
    withSession: (fn) => fn(session),
    async ping() {
      try {
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await prisma.$disconnect();
      await client.close();
      lock?.release();
    },
  };
}
