import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/security/crypto.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { reencryptProviderSecrets } from '../../src/modules/providers/reencrypt.ts';
import { openProviderSecrets, sealProviderSecrets } from '../../src/modules/providers/secrets.ts';
import { currentSecret, sealSecrets } from '../../src/modules/webhooks/secrets.ts';
import { startTestApp } from '../support/harness.ts';

describe('encryption key rotation', () => {
  it('reads secrets sealed with a previous key and re-seals them under the current one', async () => {
    const oldKey = crypto.randomBytes(32).toString('base64');
    const newKey = crypto.randomBytes(32).toString('base64');
    const t = await startTestApp({ DB_ENCRYPTION_KEY: newKey, DB_ENCRYPTION_KEYS_PREVIOUS: oldKey });
    try {
      const org = await t.organization();
      const oldBox = new SecretBox(oldKey);
      const sealed = sealProviderSecrets(oldBox, { apiKey: 'sk-rotated', customHeaders: [{ name: 'X-A', value: 'b' }] });
      const row = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
        tx.agentCustomProvider.create({ data: { organizationId: org.id, displayName: 'old', encryptedConfig: sealed } }),
      );
      expect(t.services.secretBox.isCurrent(sealed!)).toBe(false);
      const read = await t.request<any>(`{ node(id: "${Buffer.from(`CustomProvider:${row.id}`).toString('base64url')}") { ... on CustomProvider { hasApiKey customHeaderNames } } }`, {}, { token: org.token });
      expect(read.data.node).toEqual({ hasApiKey: true, customHeaderNames: ['X-A'] });

      expect(await reencryptProviderSecrets(t.services.database.prisma, t.services.secretBox)).toBe(1);
      expect(await reencryptProviderSecrets(t.services.database.prisma, t.services.secretBox)).toBe(0);
      const after = await t.services.database.prisma.agentCustomProvider.findUniqueOrThrow({ where: { id: row.id } });
      expect(t.services.secretBox.isCurrent(after.encryptedConfig!)).toBe(true);
      expect(openProviderSecrets(new SecretBox(newKey), after.encryptedConfig)).toEqual({ apiKey: 'sk-rotated', customHeaders: [{ name: 'X-A', value: 'b' }] });
      expect(() => new SecretBox(oldKey).open(after.encryptedConfig!)).toThrow();

      // Webhook signing secrets are re-sealed too, and still sign the same.
      const hook = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
        tx.webhookEndpoint.create({ data: { organizationId: org.id, url: 'https://hooks.example.com/x', encryptedSecret: sealSecrets(oldBox, 'whsec_b2xk') } }),
      );
      expect(await reencryptProviderSecrets(t.services.database.prisma, t.services.secretBox)).toBe(1);
      const resealed = await t.services.database.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: hook.id } });
      expect(t.services.secretBox.isCurrent(resealed.encryptedSecret)).toBe(true);
      expect(currentSecret(new SecretBox(newKey), resealed.encryptedSecret)).toBe('whsec_b2xk');
    } finally {
      await t.close();
    }
  });
});
