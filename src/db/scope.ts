import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';

/**
 * Who a transaction acts for. Tenant work runs as `mcp_app` with the organization
 * (and, for workspace-bound tokens, the workspace) set, so row-level security hides
 * every other tenant even where a query forgets its filter. Platform work (seeding,
 * platform catalog, organizations) runs as `mcp_platform`, which tenant requests
 * never use.
 */
export type DbScope =
  | { kind: 'tenant'; organizationId: string; workspaceId?: string | null }
  | { kind: 'platform' };

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

function scopeStatement(prisma: PrismaClient | Tx, scope: DbScope, limits: TransactionLimits) {
  const role = scope.kind === 'platform' ? 'mcp_platform' : 'mcp_app';
  const organizationId = scope.kind === 'tenant' ? scope.organizationId : '';
  const workspaceId = scope.kind === 'tenant' ? (scope.workspaceId ?? '') : '';
  return prisma.$executeRaw`SELECT set_config('role', ${role}, true),
    set_config('app.current_org_id', ${organizationId}, true),
    set_config('app.current_workspace_id', ${workspaceId}, true),
    set_config('statement_timeout', ${String(limits.statementTimeoutMs)}, true)`;
}

/** Runs `fn` in one transaction under `scope`. */
export async function scopedTransaction<T>(
  prisma: PrismaClient,
  scope: DbScope,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  const limits = limitsByClient.get(prisma) ?? DEFAULT_LIMITS;
  return prisma.$transaction(
    async (tx) => {
      await scopeStatement(tx, scope, limits);
      return fn(tx);
    },
    { maxWait: limits.maxWaitMs, timeout: limits.transactionTimeoutMs },
  );
}

/**
 * A client whose every model operation runs in its own short transaction under
 * `scope`. Used where a library issues the queries (Pothos node lookups).
 */
export function scopedClient(prisma: PrismaClient, scope: DbScope): PrismaClient {
  const limits = limitsByClient.get(prisma) ?? DEFAULT_LIMITS;
  return prisma.$extends({
    query: {
      $allModels: {
        async $allOperations({ args, query }) {
          const [, result] = await prisma.$transaction([scopeStatement(prisma, scope, limits), query(args)]);
          return result;
        },
      },
    },
  }) as unknown as PrismaClient;
}
