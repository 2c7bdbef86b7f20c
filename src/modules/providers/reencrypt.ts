import type { SecretBox } from '../../security/crypto.ts';
import { scopedTransaction } from '../../db/scope.ts';
import type { PrismaClient } from '../../generated/prisma/client.ts';

/**
 * Re-seals every stored secret (provider secrets and webhook signing secrets) that is
 * not sealed with the current key, so that an old key can be dropped from
 * DB_ENCRYPTION_KEYS_PREVIOUS. Organizations are
 * listed on the platform path; each organization's rows are rewritten in its own
 * tenant transaction. Idempotent. Returns how many rows were re-sealed.
 */
export async function reencryptProviderSecrets(prisma: PrismaClient, box: SecretBox): Promise<number> {
  const organizations = await scopedTransaction(prisma, { kind: 'platform' }, (tx) =>
    tx.organization.findMany({ select: { id: true } }),
  );
  let resealed = 0;
  for (const { id: organizationId } of organizations) {
    resealed += await scopedTransaction(prisma, { kind: 'tenant', organizationId }, async (tx) => {
      const rows = await tx.agentCustomProvider.findMany({
        where: { organizationId, encryptedConfig: { not: null } },
        select: { id: true, encryptedConfig: true },
      });
      let count = 0;
      for (const row of rows) {
        if (box.isCurrent(row.encryptedConfig!)) continue;
        await tx.agentCustomProvider.update({
          where: { id: row.id },
          data: { encryptedConfig: box.seal(box.open(row.encryptedConfig!)) },
        });
        count++;
      }
      const endpoints = await tx.webhookEndpoint.findMany({ where: { organizationId }, select: { id: true, encryptedSecret: true } });
      for (const endpoint of endpoints) {
        if (box.isCurrent(endpoint.encryptedSecret)) continue;
        await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { encryptedSecret: box.seal(box.open(endpoint.encryptedSecret)) } });
        count++;
      }
      return count;
    });
  }
  return resealed;
}
