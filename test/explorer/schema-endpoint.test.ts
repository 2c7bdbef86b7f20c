import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/harness.ts';
import { createTestDatabase } from '../support/database.ts';
import { startServiceProcess } from '../support/service-process.ts';

const committed = fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

const getSchema = (app: TestApp, headers: Record<string, string> = {}) =>
  app.app.fetch('http://test.local/schema.graphql', { headers });

const codeOf = async (response: Response) =>
  ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;

describe('GET /schema.graphql', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the committed schema byte for byte, with a strong ETag', async () => {
    const response = await getSchema(t);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const text = await response.text();
    expect(text).toBe(committed);
    expect(text).toContain('@auth(requires: ');
    expect(text).toContain('"""The scopes a field requires (all of them)."""');
    const etag = response.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);

    const again = await getSchema(t);
    expect(again.headers.get('etag')).toBe(etag);

    const unchanged = await getSchema(t, { 'if-none-match': etag });
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.get('etag')).toBe(etag);
    expect(await unchanged.text()).toBe('');
    expect((await getSchema(t, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await getSchema(t, { 'if-none-match': '"an-older-schema"' })).status).toBe(200);
  });

  it('answers anonymous callers when introspection is public, and refuses a bad token', async () => {
    expect((await getSchema(t)).status).toBe(200);
    const { token } = await t.organization();
    expect((await getSchema(t, { authorization: `Bearer ${token}` })).status).toBe(200);
    const bad = await getSchema(t, { authorization: 'Bearer not-a-token' });
    expect(bad.status).toBe(401);
    expect(await codeOf(bad)).toBe('UNAUTHENTICATED');
    expect((await t.app.fetch('http://test.local/schema.graphql', { method: 'POST', body: '' })).status).toBe(405);
  });
});

describe('GET /schema.graphql follows the introspection rule', () => {
  it('needs a valid token where introspection is authenticated-only (production)', async () => {
    const production = await startTestApp({ NODE_ENV: 'production' });
    try {
      const anonymous = await getSchema(production);
      expect(anonymous.status).toBe(401);
      expect(await codeOf(anonymous)).toBe('UNAUTHENTICATED');
      // Not even whether it changed is told without a token.
      expect((await getSchema(production, { 'if-none-match': '*' })).status).toBe(401);
      const { token } = await production.organization();
      const response = await getSchema(production, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('private, no-cache');
      expect(await response.text()).toBe(committed);
    } finally {
      await production.close();
    }
  });

  it('is refused to everyone where introspection is disabled', async () => {
    const disabled = await startTestApp({ INTROSPECTION: 'disabled' });
    try {
      const { token } = await disabled.organization();
      for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
        const response = await getSchema(disabled, headers);
        expect(response.status).toBe(403);
        expect(await codeOf(response)).toBe('FORBIDDEN');
      }
    } finally {
      await disabled.close();
    }
  });
});

describe('GET /schema.graphql of the built service', () => {
  // The service imports its startup code before the schema: the order the schema is
  // printed in must not depend on that.
  it('is the committed schema', async () => {
    const database = await createTestDatabase();
    const service = await startServiceProcess({ DATABASE_URL: database.databaseUrl ?? '', NODE_ENV: 'development' });
    try {
      const response = await fetch(new URL('/schema.graphql', service.url));
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(committed);
    } finally {
      await service.stop();
      await database.drop();
    }
  }, 120_000);
});
