import { AsyncLocalStorage } from 'node:async_hooks';
import type { SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';

/**
 * Who a transaction acts for. Tenant work runs as `mcp_app` with the organization
 * (and, for workspace-bound tokens, the workspace) set, so row-level security hides
 * every other tenant even where a query forgets its filter. Platform work (seeding,
 * platform catalog, organizations) runs as `mcp_platform`, which tenant requests
 * never use. The change feed's in-process reader runs as `mcp_feed`, which may read
 * every organization's events and nothing else. The actor's subject is recorded with
 * the change events the transaction writes.
 */
export type DbScope =
  | { kind: 'tenant'; organizationId: string; workspaceId?: string | null; actorSubject?: string | null }
  | { kind: 'platform'; actorSubject?: string | null }
  | { kind: 'feed' };

const ROLE: Record<DbScope['kind'], string> = { tenant: 'mcp_app', platform: 'mcp_platform', feed: 'mcp_feed' };

export type Tx = Prisma.TransactionClient;

export interface TransactionLimits {
  /** Longest a single statement may run before the database cancels it. */
  statementTimeoutMs: number;
  /** Longest a transaction may stay open. */
  transactionTimeoutMs: number;
  /** Longest a transaction may wait for a connection. */
  maxWaitMs: number;
}

const DEFAULT_LIMITS: TransactionLimits = { statementTimeoutMs: 10_000, transactionTimeoutMs: 20_000, maxWaitMs: 10_000 };
const limitsByClient = new WeakMap<PrismaClient, TransactionLimits>();

/** Sets the limits every scoped transaction of `prisma` runs under. */
export function setTransactionLimits(prisma: PrismaClient, limits: TransactionLimits): void {
  limitsByClient.set(prisma, limits);
}

/** The scope of the transaction being started, from scopedTransaction to the adapter. */
interface TransactionScope {
  scope: DbScope;
  limits: TransactionLimits;
}

const startingTransaction = new AsyncLocalStorage<TransactionScope>();

const SCOPE_SQL = `SELECT set_config('role', $1, true), set_config('app.current_org_id', $2, true),
  set_config('app.current_workspace_id', $3, true), set_config('statement_timeout', $4, true),
  set_config('app.actor_subject', $5, true)`;
const TEXT_ARGUMENT = { scalarType: 'string', arity: 'scalar' } as const;

function scopeQuery({ scope, limits }: TransactionScope): SqlQuery {
  return {
    sql: SCOPE_SQL,
    args: [
      ROLE[scope.kind],
      scope.kind === 'tenant' ? scope.organizationId : '',
      scope.kind === 'tenant' ? (scope.workspaceId ?? '') : '',
      String(limits.statementTimeoutMs),
      scope.kind === 'feed' ? '' : (scope.actorSubject ?? ''),
    ],
    argTypes: [TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT, TEXT_ARGUMENT],
  };
}

/**
 * Wraps a driver adapter so that every transaction begins with its scope statement,
 * sent straight to the driver right after BEGIN rather than as a Prisma query of its
 * own (which cost more CPU than the page it scoped). The scope comes from the
 * scopedTransaction call that started the transaction (async context); a transaction
 * started any other way is refused, never run unscoped. `onScope` sees the statement,
 * as Prisma's query log would.
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
      const transaction = await adapter.startTransaction(isolationLevel);
      try {
        onScope?.(SCOPE_SQL);
        await transaction.executeRaw(scopeQuery(current));
      } catch (error) {
        await transaction.rollback().catch(() => {});
        throw error;
      }
      return transaction;
    },
  });
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => scoping(await factory.connect()),
  };
}

/** Runs `fn` in one transaction under `scope` (its client must use scopingAdapterFactory). */
export async function scopedTransaction<T>(
  prisma: PrismaClient,
  scope: DbScope,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  const limits = limitsByClient.get(prisma) ?? DEFAULT_LIMITS;
  return startingTransaction.run({ scope, limits }, () =>
    prisma.$transaction(fn, { maxWait: limits.maxWaitMs, timeout: limits.transactionTimeoutMs }),
  );
}

/** A transaction kept open until `end` is called, for several callers to share. */
export interface HeldTransaction {
  /** Rejects if the transaction could not be opened. */
  tx: Promise<Tx>;
  /** Commits (once); resolves when the connection is back in the pool, rejects if the commit failed. */
  end(): Promise<void>;
}

export function heldTransaction(prisma: PrismaClient, scope: DbScope): HeldTransaction {
  let opened!: (tx: Tx) => void;
  let release!: () => void;
  const tx = new Promise<Tx>((resolve) => (opened = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const finished = scopedTransaction(prisma, scope, async (held) => {
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
