import { GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { fakeProvider, json } from '../providers/fake-provider.ts';
import { fixtures, catalogGid } from '../access/fixtures.ts';
import { feedHead, kinds, readFeed } from '../changes/feed-client.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { catalogFilterSql, catalogFilterWhere, type CatalogEntryFilter } from '../../src/modules/catalog/filter.ts';
import type { Context } from '../../src/graphql/context.ts';
import { schema } from '../../src/schema.ts';

let t: TestApp;
let provider: Awaited<ReturnType<typeof fakeProvider>>;
let statements = 0;
let a: { id: string; token: string };
let b: { id: string; token: string };
let admin: string;
let gatewayId: string;

const GPT_4O = { supports_vision: true, supports_function_calling: true, max_input_tokens: 128_000, max_output_tokens: 16_384, input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5 };
/** What the gateway offers: exact and prefixed names of platform models, an ambiguous one, one that matches nothing. */
const OFFERED = [
  { id: 'gpt-4o', owned_by: 'gateway' },
  { id: 'openai/gpt-4o', supports_vision: false, max_input_tokens: 64_000 },
  { id: 'openai/gpt-5-mini' },
  { id: 'twice' },
  { id: 'team/both' },
  { id: 'local-llama', supports_tool_choice: true },
];

const UPSERT_PLATFORM = 'mutation($entries: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $entries }) { insertedCount updatedCount } }';
const CREATE_PROVIDER = 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id databaseId } } }';
const REFRESH = 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount removedCount } }';
const UPDATE = `mutation($input: UpdateCatalogEntryInput!) { updateCatalogEntry(input: $input) { catalogEntry {
  displayName overrides { capabilities maxInputTokens maxOutputTokens inputCostPerToken outputCostPerToken } capabilities } } }`;
const ENTRY_FIELDS = `id databaseId modelName displayName metadata capabilities
  limits { maxInputTokens maxOutputTokens } pricing { inputCostPerToken outputCostPerToken }
  overrides { capabilities maxInputTokens maxOutputTokens inputCostPerToken outputCostPerToken }
  inheritsFrom { databaseId modelName modelProvider origin capabilities }`;
const LIST = `query($filter: CatalogEntryFilter) { catalogEntries(first: 100, filter: $filter, orderBy: { field: MODEL_NAME, direction: ASC }) {
  totalCount edges { node { ${ENTRY_FIELDS} } } } }`;

type Entry = {
  id: string; databaseId: string; modelName: string; displayName: string | null; metadata: Record<string, unknown>; capabilities: string[];
  limits: { maxInputTokens: number | null; maxOutputTokens: number | null };
  pricing: { inputCostPerToken: number | null; outputCostPerToken: number | null };
  overrides: Record<string, unknown> | null;
  inheritsFrom: { databaseId: string; modelName: string; modelProvider: string; origin: string; capabilities: string[] } | null;
};

async function discovered(token = a.token): Promise<Map<string, Entry>> {
  const page = ok(await t.request<any>(LIST, { filter: { customProviderId: gatewayId } }, { token })).catalogEntries;
  return new Map(page.edges.map((edge: { node: Entry }) => [edge.node.modelName, edge.node]));
}

async function entry(name: string): Promise<Entry> {
  const found = (await discovered()).get(name);
  if (!found) throw new Error(`no discovered entry ${name}`);
  return found;
}

async function update(input: Record<string, unknown>, token = a.token) {
  return t.request<any>(UPDATE, { input }, { token });
}

async function refresh(models: unknown[]) {
  provider.answer((_req, res) => json(res, { data: models }));
  return ok(await t.request<any>(REFRESH, { id: gatewayId }, { token: a.token })).refreshCustomProvider;
}

async function platformRow(modelProvider: string, modelName: string) {
  return t.services.database.prisma.agentCatalog.findFirstOrThrow({ where: { organizationId: null, modelProvider, modelName } });
}

beforeAll(async () => {
  t = await startTestApp({ DISCOVERY_REFRESH_TIMEOUT_MS: '1500' }, { onQuery: () => void statements++ });
  provider = await fakeProvider();
  a = await t.organization('A');
  b = await t.organization('B');
  admin = await t.token({ scopes: ['platform:admin'] });
  ok(await t.request(UPSERT_PLATFORM, { entries: [
    { modelProvider: 'openai', modelName: 'gpt-4o', metadata: GPT_4O },
    { modelProvider: 'openai', modelName: 'twice', metadata: { supports_vision: true } },
    { modelProvider: 'mistral', modelName: 'twice', metadata: { supports_vision: true } },
    { modelProvider: 'openai', modelName: 'team/both', metadata: { supports_audio_input: true } },
    { modelProvider: 'anthropic', modelName: 'both', metadata: { supports_pdf_input: true } },
  ] }, { token: admin }));
  gatewayId = ok(await t.request<any>(CREATE_PROVIDER, { input: { displayName: 'Gateway', baseUrl: provider.url } }, { token: a.token }))
    .createCustomProvider.customProvider.id;
  await refresh(OFFERED);
});
afterAll(async () => {
  await provider.close();
  await t.close();
});

describe('inheritance', () => {
  it('takes what a discovered entry lacks from the one platform entry of its name, or of the part after its last /', async () => {
    const entries = await discovered();
    const gpt4o = await platformRow('openai', 'gpt-4o');
    const exact = entries.get('gpt-4o')!;
    expect(exact.inheritsFrom).toEqual({ databaseId: gpt4o.id, modelName: 'gpt-4o', modelProvider: 'openai', origin: 'PLATFORM', capabilities: ['function_calling', 'vision'] });
    expect(exact).toMatchObject({
      capabilities: ['function_calling', 'vision'],
      limits: { maxInputTokens: 128_000, maxOutputTokens: 16_384 },
      pricing: { inputCostPerToken: 2.5e-6, outputCostPerToken: 1e-5 },
      overrides: null,
      // The metadata stays what discovery stored.
      metadata: { id: 'gpt-4o', owned_by: 'gateway' },
    });
    // Prefixed: inherits from gpt-4o; its own metadata wins key by key (vision false, its own input limit).
    const prefixed = entries.get('openai/gpt-4o')!;
    expect(prefixed.inheritsFrom?.databaseId).toBe(gpt4o.id);
    expect(prefixed).toMatchObject({ capabilities: ['function_calling'], limits: { maxInputTokens: 64_000, maxOutputTokens: 16_384 } });
    // A model of the shipped platform catalog.
    const mini = entries.get('openai/gpt-5-mini')!;
    expect(mini.inheritsFrom).toMatchObject({ modelName: 'gpt-5-mini', modelProvider: 'openai' });
    expect(mini.capabilities).toEqual(mini.inheritsFrom!.capabilities);
    expect(mini.capabilities.length).toBeGreaterThan(0);
    // The exact name wins over the part after the last /.
    expect(entries.get('team/both')!.inheritsFrom).toMatchObject({ modelName: 'team/both', modelProvider: 'openai' });
    expect(entries.get('team/both')!.capabilities).toEqual(['audio_input']);
    // Two platform entries of that name (under two providers): none inherits.
    expect(entries.get('twice')).toMatchObject({ inheritsFrom: null, capabilities: [] });
    expect(entries.get('local-llama')).toMatchObject({ inheritsFrom: null, capabilities: ['tool_choice'], limits: { maxInputTokens: null, maxOutputTokens: null } });
  });

  it('applies to discovered entries only', async () => {
    const own = await fixtures(t).orgEntry(a.id, 'gpt-4o', 'azure_openai');
    const node = ok(await t.request<any>(`query($id: ID!) { node(id: $id) { ... on CatalogEntry { origin inheritsFrom { id } capabilities } } }`, { id: catalogGid(own.id) }, { token: a.token })).node;
    expect(node).toEqual({ origin: 'ORGANIZATION', inheritsFrom: null, capabilities: [] });
    const platform = ok(await t.request<any>(LIST, { filter: { origin: 'PLATFORM', modelNameContains: 'gpt-4o' } }, { token: a.token })).catalogEntries;
    expect(platform.edges.map((edge: { node: Entry }) => [edge.node.modelName, edge.node.inheritsFrom])).toEqual([['gpt-4o', null]]);
  });

  it('follows the platform catalog and the discovery payload as they change', async () => {
    const name = 'follows-platform';
    await refresh([...OFFERED, { id: `vendor/${name}` }]);
    expect((await entry(`vendor/${name}`)).inheritsFrom).toBeNull();
    // The platform gains the model: inherited from then on (the same query, answered again).
    ok(await t.request(UPSERT_PLATFORM, { entries: [{ modelProvider: 'openai', modelName: name, metadata: { supports_vision: true, max_input_tokens: 10 } }] }, { token: admin }));
    expect(await entry(`vendor/${name}`)).toMatchObject({ inheritsFrom: { modelName: name }, capabilities: ['vision'], limits: { maxInputTokens: 10 } });
    // Its metadata changes.
    ok(await t.request(UPSERT_PLATFORM, { entries: [{ modelProvider: 'openai', modelName: name, metadata: { supports_reasoning: true, max_input_tokens: 20 } }] }, { token: admin }));
    expect(await entry(`vendor/${name}`)).toMatchObject({ capabilities: ['reasoning'], limits: { maxInputTokens: 20 } });
    // The discovery payload now says something of its own.
    await refresh([...OFFERED, { id: `vendor/${name}`, supports_reasoning: false, max_input_tokens: 30 }]);
    expect(await entry(`vendor/${name}`)).toMatchObject({ capabilities: [], limits: { maxInputTokens: 30 } });
    // A second platform entry of that name makes it ambiguous: nothing inherited any more.
    ok(await t.request(UPSERT_PLATFORM, { entries: [{ modelProvider: 'gemini', modelName: name, metadata: { supports_vision: true } }] }, { token: admin }));
    expect(await entry(`vendor/${name}`)).toMatchObject({ inheritsFrom: null, capabilities: [], limits: { maxInputTokens: 30 } });
    await refresh(OFFERED);
  });

  it('follows a platform change in every organization, through the platform path only, with no event of their own', async () => {
    const name = 'cross-organization';
    const f = fixtures(t);
    const providerB = await f.customProvider(b.id);
    const entryB = await f.customEntry(b.id, providerB.id, `team/${name}`);
    const seen = async () =>
      ok(await t.request<any>(`query($id: ID!) { node(id: $id) { ... on CatalogEntry { capabilities inheritsFrom { modelName } } } }`, { id: catalogGid(entryB.id) }, { token: b.token })).node;
    expect(await seen()).toEqual({ capabilities: [], inheritsFrom: null });
    const head = await feedHead(t, b.token);
    ok(await t.request(UPSERT_PLATFORM, { entries: [{ modelProvider: 'openai', modelName: name, metadata: { supports_vision: true } }] }, { token: admin }));
    expect(await seen()).toEqual({ capabilities: ['vision'], inheritsFrom: { modelName: name } });
    // The platform entry's event says it; the entry that inherits records nothing itself.
    expect(kinds(await readFeed(t, b.token, head))).toEqual(['CATALOG_ENTRY CREATED']);
    // Recomputing other organizations' entries is the platform path's alone.
    await expect(
      scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
        tx.$queryRaw`SELECT catalog_refresh_inheritance(ARRAY[${name}]::text[])`,
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it('is computed under row-level security: another organization sees neither the entries nor their effective values', async () => {
    const seenByB = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.agentCatalogEffective.findMany({ where: { entry: { organizationId: a.id } } }),
    );
    expect(seenByB).toEqual([]);
    const ids = [...(await discovered()).values()].map((e) => e.databaseId);
    const direct = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.agentCatalogEffective.findMany({ where: { id: { in: ids } } }),
    );
    expect(direct).toEqual([]);
    expect(await discovered(b.token)).toEqual(new Map());
  });
});

describe('overrides', () => {
  it('win property by property over the own metadata, which wins over the inherited entry', async () => {
    const prefixed = await entry('openai/gpt-4o');
    const set = ok(await update({ id: prefixed.id, overrides: { maxOutputTokens: 7, inputCostPerToken: 0 } })).updateCatalogEntry.catalogEntry;
    expect(set.overrides).toEqual({ capabilities: null, maxInputTokens: null, maxOutputTokens: 7, inputCostPerToken: 0, outputCostPerToken: null });
    expect(await entry('openai/gpt-4o')).toMatchObject({
      capabilities: ['function_calling'], // own metadata (vision false) over inherited
      limits: { maxInputTokens: 64_000, maxOutputTokens: 7 }, // own, override
      pricing: { inputCostPerToken: 0, outputCostPerToken: 1e-5 }, // override, inherited
      metadata: { id: 'openai/gpt-4o', supports_vision: false, max_input_tokens: 64_000 },
    });
    // A declared capability list is the whole set: it can add and remove.
    ok(await update({ id: prefixed.id, overrides: { capabilities: ['vision', 'audio_output', 'vision'] } }));
    expect(await entry('openai/gpt-4o')).toMatchObject({
      capabilities: ['audio_output', 'vision'],
      overrides: { capabilities: ['audio_output', 'vision'], maxOutputTokens: null },
      // Given overrides replace the earlier ones as a whole.
      limits: { maxInputTokens: 64_000, maxOutputTokens: 16_384 },
    });
    ok(await update({ id: prefixed.id, overrides: { capabilities: [] } }));
    expect(await entry('openai/gpt-4o')).toMatchObject({ capabilities: [], overrides: { capabilities: [] } });
    ok(await update({ id: prefixed.id, overrides: null }));
  });

  it('are cleared by null or by declaring nothing, and kept when absent', async () => {
    const exact = await entry('gpt-4o');
    ok(await update({ id: exact.id, overrides: { maxInputTokens: 5, capabilities: ['reasoning'] } }));
    ok(await update({ id: exact.id, displayName: 'Renamed' }));
    expect(await entry('gpt-4o')).toMatchObject({ displayName: 'Renamed', capabilities: ['reasoning'], limits: { maxInputTokens: 5 }, overrides: { maxInputTokens: 5 } });
    ok(await update({ id: exact.id, overrides: null }));
    expect(await entry('gpt-4o')).toMatchObject({ overrides: null, capabilities: ['function_calling', 'vision'], limits: { maxInputTokens: 128_000 } });
    ok(await update({ id: exact.id, overrides: { maxInputTokens: 5 } }));
    ok(await update({ id: exact.id, overrides: { capabilities: null, maxInputTokens: null } }));
    expect((await entry('gpt-4o')).overrides).toBeNull();
    const stored = await t.services.database.prisma.agentCatalog.findUniqueOrThrow({ where: { id: exact.databaseId } });
    expect(stored.overrides).toBeNull();
  });

  it('are refused beyond each bound of ModelOverridesInput, and nothing is stored', async () => {
    const target = await entry('local-llama');
    ok(await update({ id: target.id, overrides: { maxInputTokens: 42 } }));
    const before = await t.services.database.prisma.agentCatalog.findUniqueOrThrow({ where: { id: target.databaseId } });
    const refused: [Record<string, unknown>, string][] = [
      [{ capabilities: Array.from({ length: 65 }, (_, i) => `c${i}`) }, 'input.overrides.capabilities'],
      [{ capabilities: ['a'.repeat(65)] }, 'input.overrides.capabilities'],
      [{ capabilities: [''] }, 'input.overrides.capabilities'],
      [{ capabilities: ['Vision'] }, 'input.overrides.capabilities'],
      [{ capabilities: ['function-calling'] }, 'input.overrides.capabilities'],
      [{ maxInputTokens: 0 }, 'input.overrides.maxInputTokens'],
      [{ maxInputTokens: 100_000_001 }, 'input.overrides.maxInputTokens'],
      [{ maxOutputTokens: -1 }, 'input.overrides.maxOutputTokens'],
      [{ maxOutputTokens: 100_000_001 }, 'input.overrides.maxOutputTokens'],
      [{ inputCostPerToken: -1e-9 }, 'input.overrides.inputCostPerToken'],
      [{ inputCostPerToken: 1.000001 }, 'input.overrides.inputCostPerToken'],
      [{ outputCostPerToken: -0.5 }, 'input.overrides.outputCostPerToken'],
      [{ outputCostPerToken: 2 }, 'input.overrides.outputCostPerToken'],
    ];
    const head = await feedHead(t, a.token);
    for (const [overrides, argument] of refused) {
      const response = await update({ id: target.id, displayName: 'not stored', overrides: { maxOutputTokens: 9, ...overrides } });
      expect(codes(response), JSON.stringify(overrides)).toEqual(['BAD_USER_INPUT']);
      expect(String(response.errors![0]!.extensions!.argument ?? response.errors![0]!.message)).toContain(argument.replace(/^input\./, ''));
    }
    const after = await t.services.database.prisma.agentCatalog.findUniqueOrThrow({ where: { id: target.databaseId } });
    expect(after).toEqual(before);
    expect(await readFeed(t, a.token, head)).toEqual([]);
    // The bounds themselves are accepted.
    const edges = { capabilities: Array.from({ length: 64 }, (_, i) => `${'c'.repeat(62)}${String(i).padStart(2, '0')}`), maxInputTokens: 1, maxOutputTokens: 100_000_000, inputCostPerToken: 0, outputCostPerToken: 1 };
    expect(ok(await update({ id: target.id, overrides: edges })).updateCatalogEntry.catalogEntry.overrides).toEqual(edges);
    ok(await update({ id: target.id, overrides: null, displayName: null }));
  });

  it('survive discovery refreshes, which replace the metadata', async () => {
    const exact = await entry('gpt-4o');
    ok(await update({ id: exact.id, overrides: { capabilities: ['vision'], maxOutputTokens: 99 } }));
    await refresh(OFFERED.map((model) => (model.id === 'gpt-4o' ? { id: 'gpt-4o', owned_by: 'someone else', max_input_tokens: 1_000 } : model)));
    expect(await entry('gpt-4o')).toMatchObject({
      metadata: { id: 'gpt-4o', owned_by: 'someone else', max_input_tokens: 1_000 },
      overrides: { capabilities: ['vision'], maxOutputTokens: 99 },
      capabilities: ['vision'],
      limits: { maxInputTokens: 1_000, maxOutputTokens: 99 },
    });
    ok(await update({ id: exact.id, overrides: null }));
  });

  it('go with the entry when discovery prunes it or it is deleted', async () => {
    const llama = await entry('local-llama');
    ok(await update({ id: llama.id, overrides: { maxInputTokens: 77 } }));
    await refresh(OFFERED.filter((model) => model.id !== 'local-llama'));
    expect(await t.services.database.prisma.agentCatalog.findUnique({ where: { id: llama.databaseId } })).toBeNull();
    await refresh(OFFERED);
    const again = await entry('local-llama');
    expect(again.databaseId).not.toBe(llama.databaseId);
    expect(again.overrides).toBeNull();

    const CREATE = 'mutation { createCatalogEntry(input: { modelName: "declared", config: { vertexAi: { vertexModel: "m" } } }) { catalogEntry { id databaseId } } }';
    const created = ok(await t.request<any>(CREATE, {}, { token: a.token })).createCatalogEntry.catalogEntry;
    const declared = ok(await update({ id: created.id, overrides: { capabilities: ['vision'], maxInputTokens: 1000 } })).updateCatalogEntry.catalogEntry;
    expect(declared).toMatchObject({ capabilities: ['vision'], overrides: { capabilities: ['vision'], maxInputTokens: 1000 } });
    ok(await t.request('mutation($id: ID!) { deleteCatalogEntry(input: { id: $id }) { deletedId } }', { id: created.id }, { token: a.token }));
    expect(await t.services.database.prisma.agentCatalog.findUnique({ where: { id: created.databaseId } })).toBeNull();
  });

  it('are refused on platform and foreign entries (NOT_FOUND); a discovered entry takes no config', async () => {
    const platform = await platformRow('openai', 'gpt-4o');
    expect(codes(await update({ id: catalogGid(platform.id), overrides: { maxInputTokens: 1 } }))).toEqual(['NOT_FOUND']);
    const exact = await entry('gpt-4o');
    expect(codes(await update({ id: exact.id, overrides: { maxInputTokens: 1 } }, b.token))).toEqual(['NOT_FOUND']);
    const response = await update({ id: exact.id, displayName: 'not stored', overrides: { maxInputTokens: 1 }, config: { vertexAi: { vertexModel: 'x' } } });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions).toMatchObject({ argument: 'input.config' });
    expect(await entry('gpt-4o')).toMatchObject({ displayName: 'Renamed', overrides: null });
    expect((await platformRow('openai', 'gpt-4o')).overrides).toBeNull();
  });

  it('make one change event when they change and none for an identical write', async () => {
    const exact = await entry('gpt-4o');
    let head = await feedHead(t, a.token);
    ok(await update({ id: exact.id, overrides: { capabilities: ['vision', 'reasoning'] } }));
    const changed = await readFeed(t, a.token, head);
    expect(kinds(changed)).toEqual(['CATALOG_ENTRY UPDATED']);
    expect(changed[0]!.subjectId).toBe(exact.id);
    head = await feedHead(t, a.token);
    ok(await update({ id: exact.id, overrides: { capabilities: ['reasoning', 'vision'] } }));
    expect(await readFeed(t, a.token, head)).toEqual([]);
    ok(await update({ id: exact.id, overrides: null }));
  });
});

describe('the capabilities filter', () => {
  it('uses the effective capabilities: inherited, own and declared', async () => {
    const names = async (capabilities: string[]) => {
      const page = ok(await t.request<any>(LIST, { filter: { customProviderId: gatewayId, capabilities } }, { token: a.token })).catalogEntries;
      expect(page.totalCount).toBe(page.edges.length);
      return page.edges.map((edge: { node: Entry }) => edge.node.modelName);
    };
    // gpt-4o only inherits vision (as does gpt-5-mini); openai/gpt-4o says vision false itself.
    expect(await names(['vision'])).toEqual(['gpt-4o', 'openai/gpt-5-mini']);
    expect(await names(['vision', 'function_calling'])).toEqual(['gpt-4o', 'openai/gpt-5-mini']);
    expect(await names(['function_calling'])).toEqual(expect.arrayContaining(['gpt-4o', 'openai/gpt-4o']));
    expect(await names(['tool_choice'])).toEqual(expect.arrayContaining(['local-llama']));
    const prefixed = await entry('openai/gpt-4o');
    ok(await update({ id: prefixed.id, overrides: { capabilities: ['vision'] } }));
    expect(await names(['vision'])).toEqual(['gpt-4o', 'openai/gpt-4o', 'openai/gpt-5-mini']);
    expect(await names(['function_calling'])).not.toContain('openai/gpt-4o');
    const exact = await entry('gpt-4o');
    ok(await update({ id: exact.id, overrides: { capabilities: [] } }));
    expect(await names(['vision'])).toEqual(['openai/gpt-4o', 'openai/gpt-5-mini']);
    ok(await update({ id: exact.id, overrides: null }));
    ok(await update({ id: prefixed.id, overrides: null }));
  });

  it('applies to a workspace\'s models too', async () => {
    const workspace = await fixtures(t).workspace(a.id);
    const QUERY = `query($ws: ID!) { workspaceModels(workspaceId: $ws, first: 100, filter: { capabilities: ["vision"], customProviderId: "${gatewayId}" }) { edges { node { modelName capabilities } } } }`;
    const { encodeGlobalId } = await import('../../src/graphql/builder.ts');
    const data = ok(await t.request<any>(QUERY, { ws: encodeGlobalId('Workspace', workspace.id) }, { token: a.token }));
    expect(data.workspaceModels.edges.map((edge: any) => edge.node.modelName)).toEqual(['gpt-4o', 'openai/gpt-5-mini']);
    expect(data.workspaceModels.edges[0].node.capabilities).toEqual(['function_calling', 'vision']);
  });
});

describe('the two forms of the catalog filter', () => {
  it('select the same rows: the SQL of catalog pages and the Prisma where of workspace models', async () => {
    const f = fixtures(t);
    const own = await f.orgEntry(a.id, 'Claude_50%\\x', 'bedrock');
    const visible = await f.tenant(a.id, (tx) => tx.agentCatalog.findMany({ select: { id: true } }));
    // Every other visible entry enabled at organization level, so both values of that filter select something.
    const granted = new Set((await f.grantsOf(a.id)).filter((grant) => grant.workspaceId === null).map((grant) => grant.catalogId));
    await f.grant(a.id, visible.filter((row, i) => i % 2 === 0 && !granted.has(row.id)).map((row) => row.id));
    ok(await update({ id: catalogGid(own.id), overrides: { capabilities: ['vision'] } }));
    const ctx = { db: { organizationId: a.id } } as unknown as Context;
    const filters: CatalogEntryFilter[] = [
      {},
      { provider: 'openai' },
      { provider: 'bedrock', capabilities: ['vision'] },
      { modelNameContains: 'GPT' },
      { modelNameContains: '50%\\' },
      { modelNameContains: '_' },
      { origin: 'PLATFORM' },
      { origin: 'ORGANIZATION' },
      { origin: 'CUSTOM_PROVIDER' },
      { customProviderId: gatewayId },
      { enabledForOrganization: true },
      { enabledForOrganization: false },
      { capabilities: ['vision'] },
      { capabilities: ['vision', 'function_calling'] },
      { capabilities: [] },
    ];
    for (const filter of filters) {
      const [byWhere, bySql] = await f.tenant(a.id, async (tx) => [
        (await tx.agentCatalog.findMany({ where: catalogFilterWhere(ctx, filter), select: { id: true }, orderBy: { id: 'asc' } })).map((row) => row.id),
        (await tx.$queryRaw<{ id: string }[]>`SELECT c.id::text FROM agent_catalog c WHERE ${catalogFilterSql(ctx, filter).where} ORDER BY c.id`).map((row) => row.id),
      ]);
      expect(bySql, JSON.stringify(filter)).toEqual(byWhere);
    }
    // Every filter kind selects some rows and leaves some out, so an agreement means something.
    for (const filter of filters.slice(1, -1)) {
      const count = await f.tenant(a.id, (tx) => tx.agentCatalog.count({ where: catalogFilterWhere(ctx, filter) }));
      expect(count, JSON.stringify(filter)).toBeGreaterThan(0);
      expect(count, JSON.stringify(filter)).toBeLessThan(visible.length + 1);
    }
  });
});

describe('the fields of a catalog page', () => {
  it('answer alike asked alone, beside every other field, and by node lookup', async () => {
    ok(await t.request('mutation { createCatalogEntry(input: { modelName: "page-fields", displayName: "Page fields", config: { bedrock: { modelId: "m" } } }) { catalogEntry { id } } }', {}, { token: a.token }));
    const declared = await entry('gpt-4o');
    ok(await update({ id: declared.id, overrides: { maxOutputTokens: 5 } }));
    const FIELDS = [
      'databaseId', 'modelProvider', 'modelName', 'displayName', 'origin', 'organizationId', 'customProvider { id displayName }', 'metadata',
      'capabilities', 'limits { maxInputTokens maxOutputTokens }', 'pricing { inputCostPerToken outputCostPerToken }', 'lastRefreshedAt',
      'createdAt', 'updatedAt', 'inheritsFrom { id modelName }', 'enabledForOrganization', 'overrides { capabilities maxOutputTokens }',
      'cloudConfig { __typename ... on BedrockConfig { modelId } }',
    ];
    // Every field of the type, so a new one is checked too (the page reads only the columns it maps to fields).
    const entryType = schema.getType('CatalogEntry') as GraphQLObjectType;
    expect(FIELDS.map((field) => field.split(' ')[0]).sort()).toEqual(Object.keys(entryType.getFields()).filter((name) => name !== 'id').sort());
    const seen = new Map<string, Set<string>>();
    for (const filter of ['{ origin: CUSTOM_PROVIDER }', '{ origin: ORGANIZATION }', '{ provider: "openai" }']) {
      const page = async (selection: string) =>
        ok(await t.request<any>(`{ catalogEntries(first: 100, filter: ${filter}, orderBy: { field: MODEL_NAME, direction: ASC }) { edges { node { id ${selection} } } } }`, {}, { token: a.token }))
          .catalogEntries.edges.map((edge: any) => edge.node);
      const all = await page(FIELDS.join(' '));
      const lookedUp = ok(await t.request<any>(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on CatalogEntry { ${FIELDS.join(' ')} } } }`,
        { ids: all.map((node: any) => node.id) }, { token: a.token })).nodes;
      expect(all, filter).toEqual(lookedUp);
      for (const field of FIELDS) {
        const name = field.split(' ')[0]!;
        expect(await page(field), `${filter} ${field}`).toEqual(all.map((node: any) => ({ id: node.id, [name]: node[name] })));
        for (const node of all) seen.set(name, (seen.get(name) ?? new Set()).add(JSON.stringify(node[name])));
      }
    }
    // Every field takes more than one value over these pages, so agreeing shows that each reads its own column.
    for (const [name, values] of seen) expect(values.size, name).toBeGreaterThan(1);
    ok(await update({ id: declared.id, overrides: null }));
  });
});

describe('statements', () => {
  it('reads a catalog page with effective values in one statement, whatever its size', async () => {
    const QUERY = `query($n: Int) { catalogEntries(first: $n) { edges { node { modelName capabilities limits { maxInputTokens } pricing { inputCostPerToken }
      overrides { capabilities } customProvider { displayName } enabledForOrganization } } } }`;
    const count = async (n: number, filter = false) => {
      statements = 0;
      const query = filter ? QUERY.replace('first: $n)', 'first: $n, filter: { capabilities: ["vision"] })') : QUERY;
      ok(await t.request(query, { n }, { token: a.token }));
      return statements;
    };
    await count(4);
    // The scope statement, the page, COMMIT.
    expect(await count(5)).toBe(3);
    expect(await count(50)).toBe(3);
    expect(await count(6, true)).toBe(3);
    expect(await count(60, true)).toBe(3);
  });

  it('reads inherited entries in one more batch, whatever the number of entries', async () => {
    // By name, the first entry (gpt-4o) inherits.
    const QUERY = `query($n: Int) { catalogEntries(first: $n, filter: { origin: CUSTOM_PROVIDER }, orderBy: { field: MODEL_NAME, direction: ASC }) {
      edges { node { modelName inheritsFrom { modelName capabilities } } } } }`;
    const count = async (n: number) => {
      statements = 0;
      const data = ok(await t.request<any>(QUERY, { n }, { token: a.token }));
      return { statements, inheriting: data.catalogEntries.edges.filter((edge: any) => edge.node.inheritsFrom).length };
    };
    const one = await count(1);
    const all = await count(100);
    expect(one.inheriting).toBe(1);
    expect(all.inheriting).toBeGreaterThan(2);
    // The scope statement, the page, the inherited entries, their effective values, COMMIT.
    expect(all.statements).toBe(5);
    expect(one.statements).toBe(5);
  });

  it("reads a workspace's page of models with their effective values in one statement", async () => {
    const workspace = await fixtures(t).workspace(a.id);
    const { encodeGlobalId } = await import('../../src/graphql/builder.ts');
    const QUERY = 'query($ws: ID!, $n: Int) { workspaceModels(workspaceId: $ws, first: $n) { edges { node { modelName capabilities limits { maxInputTokens } } } } }';
    const count = async (n: number) => {
      statements = 0;
      ok(await t.request(QUERY, { ws: encodeGlobalId('Workspace', workspace.id), n }, { token: a.token }));
      return statements;
    };
    await count(1);
    expect(await count(2)).toBe(await count(50));
  });
});
