import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSchema } from '../../src/schema.ts';
import { startTestApp, codes } from '../support/harness.ts';

describe('server', () => {
  it('serves health, readiness and GraphiQL, and masks unexpected errors with a logged request id', async () => {
    const t = await startTestApp();
    try {
      const org = await t.organization();
      expect((await t.app.fetch('http://test.local/healthz')).status).toBe(200);
      expect((await t.app.fetch('http://test.local/readyz')).status).toBe(200);
      const page = await t.app.fetch('http://test.local/graphql', { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);

      await t.request('{ workspaces { totalCount } }', {}, { token: org.token });
      await t.services.database.close();
      expect((await t.app.fetch('http://test.local/readyz')).status).toBe(503);
      const response = await t.request('{ workspaces { totalCount } }', {}, { token: org.token, headers: { 'x-request-id': 'req-masked-1' } });
      expect(codes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(response.errors?.[0]?.extensions?.requestId).toBe('req-masked-1');
      expect(JSON.stringify(response)).not.toMatch(/prisma|SELECT|at .*\.ts/i);
      expect(t.logs.some((line) => line.includes('req-masked-1'))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('keeps schema.graphql printed from the code', () => {
    const committed = fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed, 'schema.graphql is stale: run `npm run schema`').toBe(printSchema());
  });
});
