import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { fakeProvider, json } from './fake-provider.ts';
import { fixtures } from '../access/fixtures.ts';
import { decodeGlobalId, encodeGlobalId } from '../../src/graphql/builder.ts';

// SPEC §17: credentials follow their origin. A token that may edit a provider but not
// read its credentials cannot move them to another origin without giving them again.
let t: TestApp;
let f: ReturnType<typeof fixtures>;
let org: { id: string; token: string };
let editor: string;
let home: Awaited<ReturnType<typeof fakeProvider>>;
let elsewhere: Awaited<ReturnType<typeof fakeProvider>>;
const API_KEY = 'sk-origin-secret-0123456789';
const HEADER_VALUE = 'origin-header-secret-42';

const CREATE = `mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id baseUrl hasApiKey customHeaderNames } } }`;
const UPDATE = `mutation($input: UpdateCustomProviderInput!) { updateCustomProvider(input: $input) { customProvider { id baseUrl hasApiKey customHeaderNames } } }`;
const REFRESH = `mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }`;
const SHOW = `query($id: ID!) { node(id: $id) { ... on CustomProvider { baseUrl hasApiKey customHeaderNames } } }`;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_POINTS: '0' });
  f = fixtures(t);
  org = await t.organization();
  editor = await t.token({ organizationId: org.id, scopes: ['agent:read', 'agent:create', 'agent:update', 'agent:delete'] });
  home = await fakeProvider();
  elsewhere = await fakeProvider();
  for (const server of [home, elsewhere]) server.answer((_req, res) => json(res, { data: [{ id: 'm' }] }));
});
afterAll(async () => {
  await t.close();
  await home.close();
  await elsewhere.close();
});

async function create(input: Record<string, unknown>) {
  return ok(await t.request<any>(CREATE, { input: { displayName: 'gw', baseUrl: home.url, ...input } }, { token: editor })).createCustomProvider.customProvider;
}
const update = (id: string, input: Record<string, unknown>) => t.request<any>(UPDATE, { input: { id, ...input } }, { token: editor });
const show = async (id: string) => ok(await t.request<any>(SHOW, { id }, { token: editor })).node;
const failures = async (id: string) =>
  (await f.auditEvents(org.id, 'agent_custom_provider'))
    .filter((event) => event.resourceId === decodeGlobalId(id, 'id').id && event.status === 'FAILURE')
    .map((event) => [event.action, event.errorCode]);

const BOTH = { apiKey: API_KEY, customHeaders: [{ name: 'X-Team', value: HEADER_VALUE }] };
const sentSecrets = (headers: Record<string, unknown>) => JSON.stringify(headers).includes(API_KEY) || JSON.stringify(headers).includes(HEADER_VALUE);

describe('moving baseUrl to another origin', () => {
  it('is BAD_USER_INPUT naming both missing fields when a key and headers are stored, changes nothing, is audited, and the key never reaches the new origin', async () => {
    const provider = await create(BOTH);
    const other = elsewhere.url.replace('/v1', '/collect');
    const refused = await update(provider.id, { baseUrl: other, displayName: 'renamed' });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0]!.extensions).toMatchObject({ argument: 'input.apiKey', fields: ['input.apiKey', 'input.customHeaders'] });
    expect(refused.errors![0]!.message).toMatch(/^input\.apiKey, input\.customHeaders: moving baseUrl to another origin/);
    expect(refused.errors![0]!.message).not.toContain(API_KEY);
    expect(await show(provider.id)).toEqual({ baseUrl: home.url, hasApiKey: true, customHeaderNames: ['X-Team'] });
    expect(await failures(provider.id)).toEqual([['update', 'BAD_USER_INPUT']]);

    const before = { home: home.requests.length, elsewhere: elsewhere.requests.length };
    ok(await t.request(REFRESH, { id: provider.id }, { token: editor }));
    expect(home.requests.length).toBe(before.home + 1);
    expect(home.requests.at(-1)).toMatchObject({ authorization: `Bearer ${API_KEY}`, 'x-team': HEADER_VALUE });
    expect(elsewhere.requests.length).toBe(before.elsewhere);
  });

  it('names only the field still missing: the key alone, or the headers alone', async () => {
    const provider = await create(BOTH);
    const onlyKey = await update(provider.id, { baseUrl: elsewhere.url, apiKey: 'sk-new' });
    expect(onlyKey.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.customHeaders', fields: ['input.customHeaders'] });
    const onlyHeaders = await update(provider.id, { baseUrl: elsewhere.url, customHeaders: [] });
    expect(onlyHeaders.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.apiKey', fields: ['input.apiKey'] });
    expect(await show(provider.id)).toEqual({ baseUrl: home.url, hasApiKey: true, customHeaderNames: ['X-Team'] });

    const keyOnly = await create({ apiKey: API_KEY });
    expect(codes(await update(keyOnly.id, { baseUrl: elsewhere.url }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await update(keyOnly.id, { baseUrl: elsewhere.url, apiKey: 'sk-replacement' }))).toEqual([]);
    const headersOnly = await create({ customHeaders: BOTH.customHeaders });
    const refused = await update(headersOnly.id, { baseUrl: elsewhere.url, apiKey: 'sk-unrelated' });
    expect(refused.errors![0]!.extensions).toMatchObject({ argument: 'input.customHeaders', fields: ['input.customHeaders'] });
  });

  it('succeeds when the call gives the credentials: new ones reach the new origin, removed ones reach nobody', async () => {
    const replaced = await create(BOTH);
    const moved = ok(await update(replaced.id, { baseUrl: elsewhere.url, apiKey: 'sk-for-elsewhere', customHeaders: [{ name: 'X-Other', value: 'fresh' }] }));
    expect(moved.updateCustomProvider.customProvider).toEqual({ id: replaced.id, baseUrl: elsewhere.url, hasApiKey: true, customHeaderNames: ['X-Other'] });
    ok(await t.request(REFRESH, { id: replaced.id }, { token: editor }));
    expect(elsewhere.requests.at(-1)).toMatchObject({ authorization: 'Bearer sk-for-elsewhere', 'x-other': 'fresh' });
    expect(sentSecrets(elsewhere.requests.at(-1)!)).toBe(false);

    for (const removal of [{ apiKey: null, customHeaders: null }, { apiKey: '', customHeaders: [] }]) {
      const removed = await create(BOTH);
      const answer = ok(await update(removed.id, { baseUrl: elsewhere.url, ...removal }));
      expect(answer.updateCustomProvider.customProvider).toMatchObject({ baseUrl: elsewhere.url, hasApiKey: false, customHeaderNames: [] });
      ok(await t.request(REFRESH, { id: removed.id }, { token: editor }));
      expect(elsewhere.requests.at(-1)!.authorization).toBeUndefined();
      expect(sentSecrets(elsewhere.requests.at(-1)!)).toBe(false);
    }
  });

  it('counts a scheme, host or port as another origin, but not a path, case, a default port spelled out or another spelling of the address', async () => {
    const port = new URL(home.url).port;
    const named = await f.customProvider(org.id, { baseUrl: 'http://gateway.test/v1', secrets: { apiKey: API_KEY } });
    const globalId = encodeGlobalId('CustomProvider', named.id);
    for (const same of ['http://gateway.test/v2', 'HTTP://GATEWAY.TEST:80/v1/', 'http://gateway.test:80']) {
      expect(codes(await update(globalId, { baseUrl: same })), same).toEqual([]);
    }
    for (const other of ['https://gateway.test/v1', 'http://gateway.test:8080/v1', 'http://gateway.test:443/v1', 'http://gateway.test./v1', 'http://api.gateway.test/v1', 'http://127.0.0.1/v1']) {
      expect(codes(await update(globalId, { baseUrl: other })), other).toEqual(['BAD_USER_INPUT']);
    }
    const secure = await f.customProvider(org.id, { baseUrl: 'https://gateway.test/v1', secrets: { apiKey: API_KEY } });
    const secureId = encodeGlobalId('CustomProvider', secure.id);
    expect(codes(await update(secureId, { baseUrl: 'https://gateway.test:443/other' }))).toEqual([]);
    expect(codes(await update(secureId, { baseUrl: 'http://gateway.test:443/other' }))).toEqual(['BAD_USER_INPUT']);

    const loopback = await create({ apiKey: API_KEY });
    for (const same of [`http://2130706433:${port}/v2`, `http://0x7f000001:${port}/v1`, `http://127.1:${port}/v3`]) {
      expect(codes(await update(loopback.id, { baseUrl: same })), same).toEqual([]);
    }
    expect(codes(await update(loopback.id, { baseUrl: `http://localhost:${port}/v1` }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await update(loopback.id, { baseUrl: `http://[::1]:${port}/v1` }))).toEqual(['BAD_USER_INPUT']);
  });

  it('a same-origin path change keeps both secrets and sends them there', async () => {
    const provider = await create(BOTH);
    const moved = ok(await update(provider.id, { baseUrl: home.url.replace('/v1', '/v2') }));
    expect(moved.updateCustomProvider.customProvider).toMatchObject({ hasApiKey: true, customHeaderNames: ['X-Team'] });
    ok(await t.request(REFRESH, { id: provider.id }, { token: editor }));
    expect(home.requests.at(-1)).toMatchObject({ authorization: `Bearer ${API_KEY}`, 'x-team': HEADER_VALUE });
  });

  it('lets a provider without secrets move freely, and a cleared baseUrl be set again only with the credentials', async () => {
    const bare = await create({});
    expect(codes(await update(bare.id, { baseUrl: elsewhere.url }))).toEqual([]);
    const provider = await create(BOTH);
    expect(ok(await update(provider.id, { baseUrl: null })).updateCustomProvider.customProvider).toMatchObject({ baseUrl: null, hasApiKey: true });
    const refused = await update(provider.id, { baseUrl: elsewhere.url });
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['input.apiKey', 'input.customHeaders'] });
    expect(codes(await update(provider.id, { baseUrl: home.url }))).toEqual(['BAD_USER_INPUT']);
  });

  it('reads the fields as written: literals, variables of other names, a variable left out is an absent field', async () => {
    const provider = await create(BOTH);
    const literal = await t.request<any>(`mutation { updateCustomProvider(input: { id: "${provider.id}", baseUrl: "${elsewhere.url}" }) { customProvider { id } } }`, {}, { token: editor });
    expect(codes(literal)).toEqual(['BAD_USER_INPUT']);
    const DOC = `mutation($which: ID!, $target: String, $secret: String, $extra: [HeaderInput!]) {
      updateCustomProvider(input: { id: $which, baseUrl: $target, apiKey: $secret, customHeaders: $extra }) { customProvider { baseUrl hasApiKey customHeaderNames } } }`;
    const leftOut = await t.request<any>(DOC, { which: provider.id, target: elsewhere.url, secret: 'sk-new' }, { token: editor });
    expect(leftOut.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['input.customHeaders'] });
    expect(await show(provider.id)).toEqual({ baseUrl: home.url, hasApiKey: true, customHeaderNames: ['X-Team'] });
    const given = ok(await t.request<any>(DOC, { which: provider.id, target: elsewhere.url, secret: null, extra: null }, { token: editor }));
    expect(given.updateCustomProvider.customProvider).toEqual({ baseUrl: elsewhere.url, hasApiKey: false, customHeaderNames: [] });
  });
});
