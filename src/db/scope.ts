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

const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 20_000 } as const;

function scopeStatement(prisma: PrismaClient | Tx, scope: DbScope) {
  if (scope.kind === 'platform') {
    return prisma.$executeRaw`SELECT set_config('role', 'mcp_platform', true),
      set_config('app.current_org_id', '', true), set_config('app.current_workspace_id', '', true)`;
  }
  return prisma.$executeRaw`SELECT set_config('role', 'mcp_app', true),
    set_config('app.current_org_id', ${scope.organizationId}, true),
    set_config('app.current_workspace_id', ${scope.workspaceId ?? ''}, true)`;
}

/** Runs `fn` in one transaction under `scope`. */
export async function scopedTransaction<T>(
  prisma: PrismaClient,
  scope: DbScope,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  return prisma.$transaction(async (tx) => {
    await scopeStatement(tx, scope);
    return fn(tx);
  }, TRANSACTION_OPTIONS);
}

/**
 * A client whose every model operation runs in its own short transaction under
 * `scope`. Used where a library issues the queries (Pothos node lookups).
 */
export function scopedClient(prisma: PrismaClient, scope: DbScope): PrismaClient {
  return prisma.$extends({
    query: {
      $allModels: {
        async $allOperations({ args, query }) {
          const [, result] = await prisma.$transaction([scopeStatement(prisma, scope), query(args)]);
          return result;
        },
      },
    },
  }) as unknown as PrismaClient;
}
