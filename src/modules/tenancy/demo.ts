import { scopedTransaction } from '../../db/scope.ts';
import type { Services } from '../../services.ts';

/**
 * Development convenience: on an empty database, a demo organization with one
 * workspace. Returns the oldest organization, for which a token is printed.
 */
export async function ensureDemoTenant(services: Services): Promise<{ id: string; name: string }> {
  const prisma = services.database.prisma;
  const existing = await scopedTransaction(prisma, { kind: 'platform' }, (tx) =>
    tx.organization.findFirst({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  );
  if (existing) return existing;
  const organization = await scopedTransaction(prisma, { kind: 'platform' }, (tx) =>
    tx.organization.create({ data: { name: 'Demo organization' } }),
  );
  await scopedTransaction(prisma, { kind: 'tenant', organizationId: organization.id }, (tx) =>
    tx.workspace.create({ data: { name: 'Demo workspace', organizationId: organization.id } }),
  );
  services.logger.info({ organizationId: organization.id }, 'demo organization created');
  return organization;
}
