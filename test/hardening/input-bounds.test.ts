import fs from 'node:fs';
import {
  buildSchema,
  getNullableType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.ts';
import { boundsOf, describeBounds } from '../../src/graphql/input-bounds.ts';
import { CHANGE_SUBJECTS } from '../../src/modules/changes/feed.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { subscribeSse, subscribeWs } from '../changes/feed-client.ts';

/** Every input position of a schema: arguments of every field and fields of every input type. */
function inputPositions(target: GraphQLSchema): { coordinate: string; position: GraphQLArgument | GraphQLInputField }[] {
  const positions: { coordinate: string; position: GraphQLArgument | GraphQLInputField }[] = [];
  for (const type of Object.values(target.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        for (const arg of field.args) positions.push({ coordinate: `${type.name}.${field.name}(${arg.name})`, position: arg });
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) positions.push({ coordinate: `${type.name}.${field.name}`, position: field });
    }
  }
  return positions;
}

const printed = buildSchema(fs.readFileSync('schema.graphql', 'utf8'));
const printedDescriptions = new Map(inputPositions(printed).map(({ coordinate, position }) => [coordinate, position.description ?? '']));

describe('declared bounds', () => {
  const positions = inputPositions(schema);

  it('cover every list an operation can take, arguments and input fields, nested ones too', () => {
    const lists = positions.filter(({ position }) => isListType(getNullableType(position.type)));
    expect(lists.map((l) => l.coordinate)).toEqual(expect.arrayContaining(['Query.nodes(ids)', 'CatalogEntryFilter.capabilities', 'UpsertPlatformCatalogInput.entries']));
    const unbounded = lists.filter(({ position }) => boundsOf(position)?.maxItems === undefined).map((l) => l.coordinate);
    expect(unbounded, 'list inputs without a declared bound (use bounded({ maxItems }))').toEqual([]);
  });

  it('are stated in the printed description of their argument or field', () => {
    const declared = positions.filter(({ position }) => boundsOf(position));
    expect(declared.length).toBeGreaterThan(5);
    for (const { coordinate, position } of declared) {
      expect(printedDescriptions.get(coordinate), coordinate).toContain(describeBounds(boundsOf(position)!));
    }
  });
});

let t: TestApp;
let token: string;
let workspaceId: string;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_POINTS: '0', MAX_VARIABLES_BYTES: '131072', MAX_STRING_LENGTH: '1000', MAX_QUERY_COST: '2000' });
  ({ token } = await t.organization());
  workspaceId = ok(await t.request<any>('mutation { createWorkspace(input: { name: "w" }) { workspace { id } } }', {}, { token }))
    .createWorkspace.workspace.id;
});
afterAll(() => t.close());

const workspaceIds = (n: number) => Array.from({ length: n }, (_, i) => encodeGlobalId('Workspace', `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`));
const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }';

describe('list bounds', () => {
  it('answers nodes(ids) at its bound and refuses one more, naming the argument and the limit', async () => {
    const answered = ok(await t.request<any>(NODES, { ids: [workspaceId, ...workspaceIds(99)] }, { token }));
    expect(answered.nodes).toHaveLength(100);
    expect(answered.nodes[0]).toEqual({ id: workspaceId });
    const refused = await t.request(NODES, { ids: workspaceIds(101) }, { token });
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'ids', limit: 100 });
    expect(refused.data).toBeUndefined();
  });

  it('refuses a list far beyond its bound before any work, and keeps serving', async () => {
    const huge = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: NODES, variables: { ids: workspaceIds(3000) } }),
    });
    // Over MAX_VARIABLES_BYTES here: the variables are refused as a whole.
    expect(((await huge.json()) as { errors: { extensions: unknown }[] }).errors[0]!.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      argument: '$variables',
      limit: 131072,
    });
    ok(await t.request('{ viewer { subject } }', {}, { token }));
  });

  it('applies to literals, to nested fields and to fields inside fragments', async () => {
    const capabilities = JSON.stringify(Array.from({ length: 21 }, (_, i) => `c${i}`));
    const literal = await t.request(`{ catalogEntries(filter: { capabilities: ${capabilities} }) { totalCount } }`, {}, { token });
    expect(literal.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.capabilities', limit: 20 });
    const nested = await t.request(
      `query($c: [String!]) { workspaces { edges { node { ...models } } } }
       fragment models on Workspace { effectiveModels(filter: { capabilities: $c }) { totalCount } }`,
      { c: JSON.parse(capabilities) },
      { token },
    );
    expect(nested.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.capabilities', limit: 20 });
    const items = await t.request('query($c: [String!]) { catalogEntries(filter: { capabilities: $c }) { totalCount } }', { c: ['x'.repeat(65)] }, { token });
    expect(items.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.capabilities[0]', limit: 64 });
    ok(await t.request('query($c: [String!]) { catalogEntries(filter: { capabilities: $c }) { totalCount } }', { c: JSON.parse(capabilities).slice(1) }, { token }));
  });

  it('applies to subscriptions, over SSE and over WebSocket, and so does the cost', async () => {
    const url = await t.listen();
    // One of each kind at most: the bound grows with the kinds (MODEL_ALIAS made it 6).
    expect(CHANGE_SUBJECTS).toHaveLength(6);
    const filter = { subjectTypes: Array.from({ length: CHANGE_SUBJECTS.length + 1 }, () => 'WORKSPACE') };
    for (const subscription of [subscribeSse(t, token, { filter }), subscribeWs(url, token, { filter })]) {
      await subscription.done;
      expect(subscription.events).toEqual([]);
      expect(subscription.errors).toEqual([expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', argument: 'filter.subjectTypes', limit: CHANGE_SUBJECTS.length } })]);
    }
    const cheap = await startTestApp({ MAX_QUERY_COST: '2' });
    try {
      const subscription = subscribeSse(cheap, (await cheap.organization()).token);
      await subscription.done;
      expect(subscription.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED', maximumCost: 2 }) })]);
    } finally {
      await cheap.close();
    }
  });

  it('bounds input lists inside input objects (custom headers)', async () => {
    const headers = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `X-H${i}`, value: 'v' }));
    const CREATE = 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { customHeaderNames } } }';
    const created = ok(await t.request<any>(CREATE, { input: { displayName: 'p', customHeaders: headers(32) } }, { token }));
    expect(created.createCustomProvider.customProvider.customHeaderNames).toHaveLength(32);
    const refused = await t.request(CREATE, { input: { displayName: 'p', customHeaders: headers(33) } }, { token });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'input.customHeaders', limit: 32 });
  });
});

describe('strings, JSON documents and variables', () => {
  it('bounds every string: a declared maximum, else MAX_STRING_LENGTH', async () => {
    const filter = await t.request('query($s: String) { catalogEntries(filter: { modelNameContains: $s }) { totalCount } }', { s: 'x'.repeat(1001) }, { token });
    expect(filter.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.modelNameContains', limit: 1000 });
    const cursor = await t.request(`{ workspaces(after: "${'a'.repeat(1001)}") { totalCount } }`, {}, { token });
    expect(cursor.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'after', limit: 1000 });
    const header = await t.request(
      'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }',
      { input: { displayName: 'p', customHeaders: [{ name: 'X-A', value: 'v'.repeat(2049) }] } },
      { token },
    );
    expect(header.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'input.customHeaders[0].value', limit: 2048 });
  });

  it('refuses text no column can hold, in variables, literals and JSON keys', async () => {
    const variable = await t.request('query($s: String) { catalogEntries(filter: { modelNameContains: $s }) { totalCount } }', { s: 'a\u0000b' }, { token });
    expect(variable.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.modelNameContains' });
    const literal = await t.request('{ catalogEntries(filter: { provider: "a\\u0000" }) { totalCount } }', {}, { token });
    expect(literal.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'filter.provider' });
    const admin = await t.token({ scopes: ['platform:admin'] });
    const UPSERT = 'mutation($e: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $e }) { insertedCount } }';
    const key = await t.request(UPSERT, { e: [{ modelProvider: 'p', modelName: 'n', metadata: { ok: { 'bad\u0000key': 1 } } }] }, { token: admin });
    expect(key.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'input.entries[0].metadata.ok' });
  });

  it('bounds JSON documents in depth and size', async () => {
    const admin = await t.token({ scopes: ['platform:admin'] });
    const UPSERT = 'mutation($e: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $e }) { insertedCount updatedCount } }';
    const nested = (depth: number): Record<string, unknown> => (depth === 1 ? { leaf: true } : { next: nested(depth - 1) });
    const entry = (metadata: Record<string, unknown>) => [{ modelProvider: 'bounds-test', modelName: 'json', metadata }];
    ok(await t.request(UPSERT, { e: entry(nested(10)) }, { token: admin }));
    const deep = await t.request(UPSERT, { e: entry(nested(11)) }, { token: admin });
    expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 10 });
    expect(String(deep.errors?.[0]?.extensions?.argument)).toMatch(/^input\.entries\[0\]\.metadata(\.next)+$/);
    const big = await t.request(UPSERT, { e: entry({ text: 'x'.repeat(64 * 1024) }) }, { token: admin });
    expect(big.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'input.entries[0].metadata', limit: 65536 });
  });

  it('refuses variables nested too deeply before coercing them', async () => {
    const query = 'query($s: String) { catalogEntries(filter: { provider: $s }) { totalCount } }';
    const body = `{"query":${JSON.stringify(query)},"variables":{"s":${'['.repeat(5000)}"x"${']'.repeat(5000)}}}`;
    const response = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    expect(((await response.json()) as { errors: { extensions: unknown }[] }).errors[0]!.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      argument: '$variables',
      limit: 64,
    });
  });
});

describe('cost of lists', () => {
  it('counts a lookup per id of nodes(ids), times the cost of each node', async () => {
    // n lookups + n × (id 1 + name 1 + effectiveModels 1 + 20 × totalCount 1): 240 for 10 ids, 2400 for 100.
    const query = 'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Workspace { name effectiveModels(first: 20) { totalCount } } } }';
    const cheap = ok(await t.request<any>(query, { ids: workspaceIds(10) }, { token }));
    expect(cheap.nodes).toHaveLength(10);
    const expensive = await t.request(query, { ids: workspaceIds(100) }, { token });
    expect(expensive.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maximumCost: 2000 });
    expect(expensive.errors?.[0]?.extensions?.cost).toBe(2400);
  });
});
