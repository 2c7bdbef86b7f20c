import { describe, expect, it } from 'vitest';
import { startTestApp, ok, codes } from '../support/harness.ts';

describe('racing writes', () => {
  it('lets exactly one of many identical disables and deletes succeed; the others get NOT_FOUND', async () => {
    const t = await startTestApp({ RATE_LIMIT_POINTS: '0' });
    try {
      const { token } = await t.organization();
      const created = ok(await t.request<any>(
        'mutation { createCatalogEntry(input: { modelName: "raced", config: { vertexAi: { vertexModel: "v" } } }) { catalogEntry { id } modelAccess { id } } }',
        {},
        { token },
      )).createCatalogEntry;
      const disables = await Promise.all(
        Array.from({ length: 10 }, () => t.request('mutation($id: ID!) { disableModel(input: { id: $id }) { deletedId } }', { id: created.modelAccess.id }, { token })),
      );
      expect(disables.filter((r) => !r.errors).length).toBe(1);
      expect(disables.flatMap(codes).every((c) => c === 'NOT_FOUND')).toBe(true);
      const deletes = await Promise.all(
        Array.from({ length: 10 }, () => t.request('mutation($id: ID!) { deleteCatalogEntry(input: { id: $id }) { deletedId } }', { id: created.catalogEntry.id }, { token })),
      );
      expect(deletes.filter((r) => !r.errors).length).toBe(1);
      expect(deletes.flatMap(codes).every((c) => c === 'NOT_FOUND')).toBe(true);
    } finally {
      await t.close();
    }
  });
});
