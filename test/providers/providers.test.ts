import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { fakeProvider, json } from './fake-provider.ts';
import { checkAddress } from '../../src/security/outbound-guard.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';

let t: TestApp;
let org: { id: string; token: string };
let provider: Awaited<ReturnType<typeof fakeProvider>>;
const API_KEY = 'sk-test-secret-0123456789abcdef';
const HEADER_VALUE = 'header-secret-value-42';

const CREATE = `mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) {
  customProvider { id databaseId displayName baseUrl hasApiKey customHeaderNames apiKeyHeader discoveryStatus } } }`;
const UPDATE = `mutation($input: UpdateCustomProviderInput!) { updateCustomProvider(input: $input) {
  customProvider { id displayName baseUrl hasApiKey customHeaderNames passthrough } } }`;
const REFRESH = `mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount removedCount
  customProvider { discoveryStatus lastDiscoveryError lastRefreshedAt models(first: 100) { totalCount edges { node { modelName origin enabledForOrganization modelProvider metadata } } } } } }`;
const PROVIDER = `query($id: ID!) { node(id: $id) { ... on CustomProvider { discoveryStatus lastDiscoveryError lastDiscoveryStartedAt models { totalCount } } } }`;

beforeAll(async () => {
  t = await startTestApp({ DISCOVERY_REFRESH_TIMEOUT_MS: '1500', DISCOVERY_VALIDATE_TIMEOUT_MS: '1500' });
  org = await t.organization();
  provider = await fakeProvider();
});
afterAll(async () => {
  await provider.close();
  await t.close();
});
beforeEach(() => {
  provider.requests.length = 0;
});

async function create(input: Record<string, unknown>) {
  return ok(await t.request<any>(CREATE, { input: { displayName: 'Local gateway', baseUrl: provider.url, ...input } }, { token: org.token }))
    .createCustomProvider.customProvider;
}

describe('custom provider settings', () => {
  it('stores secrets encrypted and shows only their presence', async () => {
    const created = await create({ apiKey: API_KEY, customHeaders: [{ name: 'X-Team', value: HEADER_VALUE }, { name: 'A-First', value: 'v' }] });
    expect(created).toMatchObject({ hasApiKey: true, customHeaderNames: ['A-First', 'X-Team'], apiKeyHeader: null, discoveryStatus: 'NEVER' });
    const row = await t.services.database.prisma.agentCustomProvider.findUniqueOrThrow({ where: { id: created.databaseId } });
    const stored = Buffer.from(row.encryptedConfig!);
    expect(stored.includes(Buffer.from(API_KEY))).toBe(false);
    expect(stored.includes(Buffer.from(HEADER_VALUE))).toBe(false);
  });

  it('validates every field with a message naming it', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ displayName: '' }, 'input.displayName'],
      [{ displayName: 'x'.repeat(201) }, 'input.displayName'],
      [{ baseUrl: 'ftp://example.com' }, 'input.baseUrl'],
      [{ baseUrl: 'not a url' }, 'input.baseUrl'],
      [{ baseUrl: `http://example.com/${'a'.repeat(500)}` }, 'input.baseUrl'],
      [{ baseUrl: 'http://user:pass@example.com' }, 'input.baseUrl'],
      [{ baseUrl: 'http://example.com/v1?key=1' }, 'input.baseUrl'],
      [{ baseUrl: 'http://example.com/v1#frag' }, 'input.baseUrl'],
      [{ apiKeyHeader: 'Bad Header' }, 'input.apiKeyHeader'],
      [{ apiKeyHeader: 'x'.repeat(121) }, 'input.apiKeyHeader'],
      [{ customHeaders: [{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }] }, 'input.customHeaders[1].name'],
      [{ customHeaders: [{ name: 'X-A', value: 'a\r\nInjected: 1' }] }, 'input.customHeaders[0].value'],
      [{ customHeaders: [{ name: 'Authorization', value: 'x' }] }, 'input.customHeaders[0].name'],
      [{ customHeaders: Array.from({ length: 33 }, (_, i) => ({ name: `X-${i}`, value: 'v' })) }, 'input.customHeaders'],
      [{ customHeaders: [{ name: 'X-A', value: 'v'.repeat(2049) }] }, 'input.customHeaders[0].value'],
    ];
    for (const [input, argument] of cases) {
      const response = await t.request(CREATE, { input: { displayName: 'p', baseUrl: provider.url, ...input } }, { token: org.token });
      expect(response.errors?.[0]?.extensions, JSON.stringify(input).slice(0, 80)).toMatchObject({ code: 'BAD_USER_INPUT', argument });
    }
  });

  it('merges updates: one secret never drops the other, null/"" and []/null remove, a same-origin baseUrl keeps secrets', async () => {
    const created = await create({ apiKey: API_KEY, customHeaders: [{ name: 'X-Team', value: HEADER_VALUE }] });
    const update = async (input: Record<string, unknown>) =>
      ok(await t.request<any>(UPDATE, { input: { id: created.id, ...input } }, { token: org.token })).updateCustomProvider.customProvider;
    expect(await update({ apiKey: 'sk-new-key' })).toMatchObject({ hasApiKey: true, customHeaderNames: ['X-Team'] });
    expect(await update({ customHeaders: [{ name: 'X-Other', value: 'v' }] })).toMatchObject({ hasApiKey: true, customHeaderNames: ['X-Other'] });
    // Another path on the same origin (default port spelled out or not) keeps both secrets.
    expect(await update({ baseUrl: provider.url.replace('/v1', '/v2') })).toMatchObject({ hasApiKey: true, customHeaderNames: ['X-Other'] });
    expect(await update({ apiKey: '' })).toMatchObject({ hasApiKey: false, customHeaderNames: ['X-Other'] });
    expect(await update({ customHeaders: null })).toMatchObject({ hasApiKey: false, customHeaderNames: [] });
    const row = await t.services.database.prisma.agentCustomProvider.findUniqueOrThrow({ where: { id: created.databaseId } });
    expect(row.encryptedConfig).toBeNull();
    for (const input of [{ displayName: null }, { passthrough: null }, { displayName: 'x'.repeat(201) }]) {
      expect(codes(await t.request(UPDATE, { input: { id: created.id, ...input } }, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('reads a variable left out of the input as an absent field, not as null: nothing is cleared', async () => {
    const created = await create({ apiKey: API_KEY, customHeaders: [{ name: 'X-Team', value: HEADER_VALUE }] });
    const DOC = `mutation($which: ID!, $name: String, $secret: String, $extra: [HeaderInput!]) {
      a: updateCustomProvider(input: { id: $which, displayName: $name, apiKey: $secret, customHeaders: $extra }) { customProvider { displayName hasApiKey customHeaderNames } } }`;
    const kept = ok(await t.request<any>(DOC, { which: created.id, name: 'renamed' }, { token: org.token }));
    expect(kept.a.customProvider).toEqual({ displayName: 'renamed', hasApiKey: true, customHeaderNames: ['X-Team'] });
    const cleared = ok(await t.request<any>(DOC, { which: created.id, secret: null, extra: null }, { token: org.token }));
    expect(cleared.a.customProvider).toEqual({ displayName: 'renamed', hasApiKey: false, customHeaderNames: [] });
  });
});

describe('discovery', () => {
  it('sends custom headers and the key as Bearer by default, or raw in the configured header', async () => {
    provider.answer((_req, res) => json(res, { data: [{ id: 'm1' }] }));
    const bearer = await create({ apiKey: API_KEY, customHeaders: [{ name: 'X-Team', value: HEADER_VALUE }] });
    ok(await t.request(REFRESH, { id: bearer.id }, { token: org.token }));
    expect(provider.requests.at(-1)).toMatchObject({ authorization: `Bearer ${API_KEY}`, 'x-team': HEADER_VALUE });
    const raw = await create({ apiKey: API_KEY, apiKeyHeader: 'api-key' });
    ok(await t.request(REFRESH, { id: raw.id }, { token: org.token }));
    expect(provider.requests.at(-1)!['api-key']).toBe(API_KEY);
    expect(provider.requests.at(-1)!.authorization).toBeUndefined();
  });

  it('upserts, prunes what the provider stopped offering, collapses duplicates and grants the organization', async () => {
    const created = await create({});
    provider.answer((_req, res) => json(res, { data: [{ id: 'alpha', owned_by: 'x' }, { id: 'beta' }, { id: 'alpha' }, { model_name: 'gamma' }, { id: 42 }, { id: 'x'.repeat(501) }, 'junk'] }));
    const first = ok(await t.request<any>(REFRESH, { id: created.id }, { token: org.token })).refreshCustomProvider;
    expect(first).toMatchObject({ upsertedCount: 3, removedCount: 0 });
    expect(first.customProvider.discoveryStatus).toBe('SUCCEEDED');
    const names = first.customProvider.models.edges.map((e: any) => e.node.modelName);
    expect(names).toEqual(['alpha', 'beta', 'gamma']);
    for (const edge of first.customProvider.models.edges) {
      expect(edge.node).toMatchObject({ origin: 'CUSTOM_PROVIDER', enabledForOrganization: true, modelProvider: 'custom-model-provider' });
    }
    provider.answer((_req, res) => json(res, [{ id: 'beta', v: 2 }]));
    const second = ok(await t.request<any>(REFRESH, { id: created.id }, { token: org.token })).refreshCustomProvider;
    expect(second).toMatchObject({ upsertedCount: 1, removedCount: 2 });
    expect(second.customProvider.models.edges[0].node.metadata).toEqual({ id: 'beta', v: 2 });
    provider.answer((_req, res) => json(res, { data: [] }));
    const empty = ok(await t.request<any>(REFRESH, { id: created.id }, { token: org.token })).refreshCustomProvider;
    expect(empty).toMatchObject({ upsertedCount: 0, removedCount: 1 });
    expect(empty.customProvider.models.totalCount).toBe(0);
  });

  it.each([
    ['a non-2xx answer', (_req: unknown, res: any) => json(res, { error: 'no' }, 503), /HTTP 503/],
    ['malformed JSON', (_req: unknown, res: any) => { res.writeHead(200); res.end('{not json'); }, /not valid JSON/],
    ['the wrong shape', (_req: unknown, res: any) => json(res, { models: 'nope' }), /not a model list/],
    ['a redirect', (_req: unknown, res: any) => { res.writeHead(302, { location: 'http://127.0.0.1:1/' }); res.end(); }, /redirect/],
    ['an oversized body', (_req: unknown, res: any) => { res.writeHead(200); res.end(`{"data":["${'x'.repeat(6 * 1024 * 1024)}"]}`); }, /exceeds/],
    ['a timeout', (_req: unknown, res: any) => { setTimeout(() => json(res, { data: [] }), 3000); }, /did not answer/],
  ])('fails cleanly on %s: catalog untouched, FAILED, UPSTREAM_ERROR', async (_label, answer, message) => {
    const created = await create({ apiKey: API_KEY });
    provider.answer((_req, res) => json(res, { data: [{ id: 'kept' }] }));
    ok(await t.request(REFRESH, { id: created.id }, { token: org.token }));
    provider.answer(answer as never);
    const failed = await t.request(REFRESH, { id: created.id }, { token: org.token });
    expect(codes(failed)).toEqual(['UPSTREAM_ERROR']);
    const state = ok(await t.request<any>(PROVIDER, { id: created.id }, { token: org.token })).node;
    expect(state.discoveryStatus).toBe('FAILED');
    expect(state.lastDiscoveryError).toMatch(message);
    expect(state.lastDiscoveryError).not.toContain(API_KEY);
    expect(state.models.totalCount).toBe(1);
  });

  it('shows RUNNING while a refresh runs and answers CONFLICT to a second one; a stale RUNNING can be reclaimed', async () => {
    const created = await create({});
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    provider.answer(async (_req, res) => {
      await held;
      json(res, { data: [{ id: 'slow' }] });
    });
    const first = t.request(REFRESH, { id: created.id }, { token: org.token });
    let state: any;
    for (let i = 0; i < 50; i++) {
      state = ok(await t.request<any>(PROVIDER, { id: created.id }, { token: org.token })).node;
      if (state.discoveryStatus === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(state.discoveryStatus).toBe('RUNNING');
    expect(state.lastDiscoveryStartedAt).toBeTruthy();
    expect(codes(await t.request(REFRESH, { id: created.id }, { token: org.token }))).toEqual(['CONFLICT']);
    release();
    expect(ok(await first)).toBeTruthy();

    await t.services.database.prisma.agentCustomProvider.update({
      where: { id: created.databaseId },
      data: { discoveryStatus: 'RUNNING', lastDiscoveryStartedAt: new Date(Date.now() - 60_000) },
    });
    provider.answer((_req, res) => json(res, { data: [] }));
    ok(await t.request(REFRESH, { id: created.id }, { token: org.token }));
  });

  it('validates stored and unsaved settings without storing anything', async () => {
    provider.answer((_req, res) => json(res, { data: [{ id: 'a' }, { id: 'b' }] }));
    const VALIDATE = 'mutation($input: ValidateCustomProviderInput!) { validateCustomProvider(input: $input) { valid httpStatus modelCount error } }';
    const unsaved = ok(await t.request<any>(VALIDATE, { input: { baseUrl: provider.url, apiKey: API_KEY } }, { token: org.token }));
    expect(unsaved.validateCustomProvider).toEqual({ valid: true, httpStatus: 200, modelCount: 2, error: null });
    expect(provider.requests.at(-1)!.authorization).toBe(`Bearer ${API_KEY}`);
    const stored = await create({ apiKey: API_KEY });
    provider.answer((_req, res) => json(res, {}, 401));
    const invalid = ok(await t.request<any>(VALIDATE, { input: { id: stored.id } }, { token: org.token }));
    expect(invalid.validateCustomProvider).toMatchObject({ valid: false, httpStatus: 401 });
    const after = ok(await t.request<any>(PROVIDER, { id: stored.id }, { token: org.token })).node;
    expect(after).toMatchObject({ discoveryStatus: 'NEVER', models: { totalCount: 0 } });
  });

  it('never reaches link-local or metadata addresses, and private ones when configured', async () => {
    const saved = await t.request<any>(CREATE, { input: { displayName: 'm', baseUrl: 'http://169.254.169.254/latest' } }, { token: org.token });
    expect(codes(saved)).toEqual(['BAD_USER_INPUT']);
    // One stored before save refused it is refused when connecting.
    const metadata = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
      tx.agentCustomProvider.create({ data: { organizationId: org.id, displayName: 'old', baseUrl: 'http://169.254.169.254/latest' } }),
    );
    const refused = await t.request<any>(REFRESH, { id: encodeGlobalId('CustomProvider', metadata.id) }, { token: org.token });
    expect(codes(refused)).toEqual(['UPSTREAM_ERROR']);
    expect(refused.errors?.[0]?.message).toMatch(/refused to connect/);
    expect(() => checkAddress('169.254.169.254', false)).toThrow();
    expect(() => checkAddress('::ffff:169.254.169.254', false)).toThrow();
    expect(() => checkAddress('fd00:ec2::254', false)).toThrow();
    expect(() => checkAddress('127.0.0.1', false)).not.toThrow();
    expect(() => checkAddress('10.1.2.3', true)).toThrow();

    const strict = await startTestApp({ DISCOVERY_DENY_PRIVATE_NETWORKS: 'true' });
    try {
      const other = await strict.organization();
      const created = ok(await strict.request<any>(CREATE, { input: { displayName: 'p', baseUrl: provider.url } }, { token: other.token }));
      const response = await strict.request(REFRESH, { id: created.createCustomProvider.customProvider.id }, { token: other.token });
      expect(codes(response)).toEqual(['UPSTREAM_ERROR']);
      const named = ok(await strict.request<any>(CREATE, { input: { displayName: 'p', baseUrl: provider.url.replace('127.0.0.1', 'localhost') } }, { token: other.token }));
      expect(codes(await strict.request(REFRESH, { id: named.createCustomProvider.customProvider.id }, { token: other.token }))).toEqual(['UPSTREAM_ERROR']);
    } finally {
      await strict.close();
    }
  });

  it('deletes a provider with its models and grants, reporting the count', async () => {
    const created = await create({});
    provider.answer((_req, res) => json(res, { data: [{ id: 'd1' }, { id: 'd2' }] }));
    ok(await t.request(REFRESH, { id: created.id }, { token: org.token }));
    const deleted = ok(await t.request<any>('mutation($id:ID!){deleteCustomProvider(input:{id:$id}){deletedId deletedModelCount}}', { id: created.id }, { token: org.token }));
    expect(deleted.deleteCustomProvider).toEqual({ deletedId: created.id, deletedModelCount: 2 });
    const prisma = t.services.database.prisma;
    expect(await prisma.agentCatalog.count({ where: { customProviderId: created.databaseId } })).toBe(0);
  });

  it('keeps secrets out of every log line of the run', () => {
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toContain(HEADER_VALUE);
  });
});
