import { AsyncLocalStorage } from 'node:async_hooks';
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { ConnectionLost, isConnectionFailure, wasNeverSent, type LostOutcome } from './failures.ts';

/**
 * Who a transaction acts for. Tenant work runs as `mcp_app` with the organization
 * (and, for workspace-bound tokens, the workspace) set, so row-level security hides
 * every other tenant even where a query forgets its filter. Platform work (seeding,
 * platform catalog, organizations) runs as `mcp_platform`, which tenant requests
 * never use. The change feed's in-process reader runs as `mcp_feed`, which may read
 * every organization's events and nothing else; the webhook dispatcher as
 * `mcp_webhooks`, which may read every endpoint and write every delivery and nothing
 * else. The actor's subject is recorded with the change events the transaction writes.
 */
export type DbScope =
  | { kind: 'tenant'; organizationId: string; workspaceId?: string | null; actorSubject?: string | null }
  | { kind: 'platform'; actorSubject?: string | null }
  | { kind: 'feed' }
  | { kind: 'webhooks' };

const ROLE: Record<DbScope['kind'], string> = { tenant: 'mcp_app', platform: 'mcp_platform', feed: 'mcp_feed', webhooks: 'mcp_webhooks' };

export type Tx = Prisma.TransactionClient;

export interface TransactionLimits {
  /** Longest a single statement may run before the database cancels it. */
  statementTimeoutMs: number;
  /** Longest a transaction may stay open. */
  transactionTimeoutMs: number;
  /** Longest a transaction may wait for a connection. */
  maxWaitMs: number;
}

export interface TransactionSettings {
  limits: TransactionLimits;
  /** Told of every scoped transaction when it ends, with how long it took (metrics). */
  onEnd?: (scope: DbScope['kind'], outcome: 'commit' | 'rollback', seconds: number) => void;
}

export const DEFAULT_TRANSACTION_LIMITS: TransactionLimits = { statementTimeoutMs: 10_000, transactionTimeoutMs: 20_000, maxWaitMs: 10_000 };
const DEFAULT_SETTINGS: TransactionSettings = { limits: DEFAULT_TRANSACTION_LIMITS };
const settingsByClient = new WeakMap<PrismaClient, TransactionSettings>();

/** Sets the limits every scoped transaction of `prisma` runs under, and who hears of them. */
export function setTransactionSettings(prisma: PrismaClient, settings: TransactionSettings): void {
  settingsByClient.set(prisma, settings);
}

/** The scope of the transaction being started, from scopedTransaction to the adapter, and what became of its connection. */
interface TransactionScope {
  scope: DbScope;
  limits: TransactionLimits;
  /** Set by the adapter when the transaction's connection failed. */
  lost?: LostOutcome;
  /** Told the snapshot of the transaction's first statement (see SCOPE_SQL). */
  onSnapshot?: (snapshot: string) => void;
  /** The driver's transaction, once started (for queryOnConnection). */
  connection?: ScopedConnection;
  /** Set once COMMIT or ROLLBACK was sent: the connection may already serve another transaction. */
  ended?: boolean;
}

/** The driver's transaction of a scoped transaction, for statements sent past Prisma's query engine. */
interface ScopedConnection {
  query(query: SqlQuery): Promise<unknown[][]>;
}

const startingTransaction = new AsyncLocalStorage<TransactionScope>();

// It also returns the snapshot the transaction starts from: an answer computed in the
// transaction reflects at least every commit visible in it (the response cache keeps
// it with the answer instead of asking for it in a statement of its own).
const SCOPE_SQL = `SELECT set_config('role', $1, true), set_config('app.current_org_id', $2, true),
  set_config('app.current_workspace_id', $3, true), set_config('statement_timeout', $4, true),
  set_config('app.actor_subject', $5, true), pg_current_snapshot()::text`;
const TEXT_ARGUMENT = { scalarType: 'string', arity: 'scalar' } as const;

function scopeQuery({ scope, limits }: TransactionScope): SqlQuery {
  return {
    sql: SCOPE_SQL,
    args: [
      ROLE[scope.kind],
      scope.kind === 'tenant' ? scope.organizationId : '',
      scope.kind === 'tenant' ? (scope.workspaceId ?? '') : '',
      String(limits.statementTimeoutMs),
      scope.kind === 'tenant' || scope.kind === 'platform' ? (scope.actorSubject ?? '') : '',
    ],
    argTypes: [TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT],
  };
}

/** Notes on `state` a connection failure of one of its statements; `commit` for COMMIT itself. */
function noteFailure(state: TransactionScope, error: unknown, commit: boolean): void {
  if (!isConnectionFailure(error)) return;
  state.lost ??= commit && !wasNeverSent(error) ? 'unknown' : 'not-committed';
}

/**
 * The driver's transaction, noting on `state` whether its connection fails and whether
 * that happened while COMMIT was in flight (Prisma sends COMMIT as a statement, or calls
 * `commit` for drivers that commit themselves).
 */
function watchConnection(transaction: Transaction, state: TransactionScope): Transaction {
  const watch = <T>(run: () => Promise<T>, commit: boolean) =>
    run().catch((error: unknown) => {
      noteFailure(state, error, commit);
      throw error;
    });
  return {
    provider: transaction.provider,
    adapterName: transaction.adapterName,
    options: transaction.options,
    queryRaw: (query) => watch(() => transaction.queryRaw(query), false),
    executeRaw: (query) => {
      const statement = query.sql.trim().toUpperCase();
      if (statement === 'COMMIT' || statement === 'ROLLBACK') state.ended = true;
      return watch(() => transaction.executeRaw(query), statement === 'COMMIT');
    },
    commit: () => {
      state.ended = true;
      return watch(() => transaction.commit(), transaction.options.usePhantomQuery);
    },
    rollback: () => {
      state.ended = true;
      return transaction.rollback();
    },
    createSavepoint: transaction.createSavepoint && ((name) => transaction.createSavepoint!(name)),
    rollbackToSavepoint: transaction.rollbackToSavepoint && ((name) => transaction.rollbackToSavepoint!(name)),
    releaseSavepoint: transaction.releaseSavepoint && ((name) => transaction.releaseSavepoint!(name)),
  };
}

/**
 * Wraps a driver adapter so that every transaction begins with its scope statement,
 * sent straight to the driver right after BEGIN rather than as a Prisma query of its
 * own (which cost more CPU than the page it scoped). The scope comes from the
 * scopedTransaction call that started the transaction (async context), which is told
 * the snapshot it returns; a transaction started any other way is refused, never run
 * unscoped. `onScope` sees the statement, as Prisma's query log would. Every
 * transaction's connection is watched (see watchConnection).
 */
export function scopingAdapterFactory(factory: SqlDriverAdapterFactory, onScope?: (sql: string) => void): SqlDriverAdapterFactory {
  const scoping = (adapter: SqlDriverAdapter): SqlDriverAdapter => ({
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (query) => adapter.queryRaw(query),
    executeRaw: (query) => adapter.executeRaw(query),
    executeScript: (script) => adapter.executeScript(script),
    getConnectionInfo: adapter.getConnectionInfo && (() => adapter.getConnectionInfo!()),
    dispose: () => adapter.dispose(),
    async startTransaction(isolationLevel) {
      const current = startingTransaction.getStore();
      if (!current) throw new Error('database transactions are started through scopedTransaction only');
      let transaction: Transaction;
      try {
        transaction = watchConnection(await adapter.startTransaction(isolationLevel), current);
      } catch (error) {
        noteFailure(current, error, false);
        throw error;
      }
      try {
        onScope?.(SCOPE_SQL);
        const { rows } = await transaction.queryRaw(scopeQuery(current));
        current.onSnapshot?.(rows[0]![5] as string);
      } catch (error) {
        await transaction.rollback().catch(() => {});
        throw error;
      }
      current.connection = {
        query: async (query) => {
          onScope?.(query.sql);
          return (await transaction.queryRaw(query)).rows;
        },
      };
      return transaction;
    },
  });
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => scoping(await factory.connect()),
  };
}

/** The scope of each transaction client handed to a scoped transaction's callback. */
const scopeOfClient = new WeakMap<Tx, TransactionScope>();

async function runScoped<T>(prisma: PrismaClient, state: TransactionScope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const onEnd = settingsByClient.get(prisma)?.onEnd;
  const started = performance.now();
  let outcome: 'commit' | 'rollback' = 'rollback';
  try {
    const result = await startingTransaction.run(state, () =>
      prisma.$transaction(
        (tx) => {
          scopeOfClient.set(tx, state);
          return fn(tx);
        },
        { maxWait: state.limits.maxWaitMs, timeout: state.limits.transactionTimeoutMs },
      ),
    );
    outcome = 'commit';
    return result;
  } catch (error) {
    if (state.lost && !(error instanceof ConnectionLost)) throw new ConnectionLost(state.lost, error);
    throw error;
  } finally {
    onEnd?.(state.scope.kind, outcome, (performance.now() - started) / 1000);
  }
}

const stateFor = (prisma: PrismaClient, scope: DbScope, onSnapshot?: (snapshot: string) => void): TransactionScope => ({
  scope,
  limits: (settingsByClient.get(prisma) ?? DEFAULT_SETTINGS).limits,
  onSnapshot,
});

/**
 * Runs `fn` in one transaction under `scope` (its client must use scopingAdapterFactory).
 * A transaction whose connection failed rejects with ConnectionLost, saying whether
 * COMMIT was in flight.
 */
export function scopedTransaction<T>(
  prisma: PrismaClient,
  scope: DbScope,
  fn: (tx: Tx) => Promise<T>,
  onSnapshot?: (snapshot: string) => void,
): Promise<T> {
  return runScoped(prisma, stateFor(prisma, scope, onSnapshot), fn);
}

const UNKNOWN_ARGUMENT = { scalarType: 'unknown', arity: 'scalar' } as const;
const UNKNOWN_LIST_ARGUMENT = { scalarType: 'unknown', arity: 'list' } as const;

/**
 * Runs `query` in `tx`'s transaction, sent to the driver rather than through Prisma's
 * query engine, and returns its rows as arrays. For the hottest reads, whose few columns
 * need none of Prisma's mapping: its engine cost about 0.1 ms of CPU per statement
 * (BENCHMARKS.md, step 16). Same connection, same scope, same row-level security;
 * refused once the transaction has ended, as Prisma refuses its own queries then.
 */
export function queryOnConnection(tx: Tx, query: Prisma.Sql): Promise<unknown[][]> {
  const state = scopeOfClient.get(tx);
  if (!state?.connection) return Promise.reject(new Error('queryOnConnection needs the client of a scoped transaction'));
  if (state.ended) return Promise.reject(new Error('Transaction already closed: a statement was sent after its COMMIT or ROLLBACK'));
  const args = query.values;
  return state.connection.query({
    sql: query.text,
    args,
    argTypes: args.map((arg) => (Array.isArray(arg) ? UNKNOWN_LIST_ARGUMENT : UNKNOWN_ARGUMENT)),
  });
}

/** A transaction kept open until `end` is called, for several callers to share. */
export interface HeldTransaction {
  /** Rejects if the transaction could not be opened. */
  tx: Promise<Tx>;
  /** Commits (once); resolves when the connection is back in the pool, rejects if the commit failed. */
  end(): Promise<void>;
  /** Set once the transaction's connection failed (its statements then fail with the driver's errors). */
  readonly lost: LostOutcome | undefined;
}

export function heldTransaction(prisma: PrismaClient, scope: DbScope, onSnapshot?: (snapshot: string) => void): HeldTransaction {
  let opened!: (tx: Tx) => void;
  let release!: () => void;
  const tx = new Promise<Tx>((resolve) => (opened = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const state = stateFor(prisma, scope, onSnapshot);
  const finished = runScoped(prisma, state, async (held) => {
    opened(held);
    await released;
  });
  return {
    // Whichever settles first: the open transaction, or the failure to open it.
    tx: Promise.race([tx, finished.then(() => tx)]),
    end: () => {
      release();
      return finished.then(() => undefined);
    },
    get lost() {
      return state.lost;
    },
  };
}

type TransactionRunner = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * A client whose every model operation runs through `run` (a scoped transaction).
 * Used where a library issues the queries (Pothos node lookups).
 */
export function scopedClient(prisma: PrismaClient, run: TransactionRunner): PrismaClient {
  return prisma.$extends({
    query: {
      $allModels: {
        $allOperations({ model, operation, args }) {
          const delegate = model.charAt(0).toLowerCase() + model.slice(1);
          return run((tx) => (tx as unknown as Record<string, Record<string, (a: unknown) => Promise<unknown>>>)[delegate]![operation]!(args));
        },
      },
    },
  }) as unknown as PrismaClient;
}
