import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopedTransaction } from '../../src/db/scope.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';

let t: TestApp;
let statements = 0;
let transactions = 0;
let a: { id: string; token: string };
let b: { id: string; token: string };
let providerId: string;

const LIST = `query($first: Int, $after: String, $last: Int, $before: String, $filter: CatalogEntryFilter, $orderBy: CatalogEntryOrder) {
  catalogEntries(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id databaseId modelName modelProvider origin organizationId createdAt enabledForOrganization capabilities customProvider { displayName } } } } }`;
const CREATE = `mutation($input: CreateCatalogEntryInput!) { createCatalogEntry(input: $input) {
  catalogEntry { id databaseId modelProvider modelName displayName origin enabledForOrganization
    cloudConfig { __typename ... on BedrockConfig { inferenceProfileId modelId useConverse } ... on AzureOpenAIConfig { deploymentName } ... on AzureAIConfig { azureAiModelName } ... on VertexAIConfig { vertexModel } } }
  modelAccess { level workspace { id } } } }`;
const UPDATE = `mutation($input: UpdateCatalogEntryInput!) { updateCatalogEntry(input: $input) { catalogEntry { displayName
  cloudConfig { __typename ... on BedrockConfig { inferenceProfileId modelId useConverse } ... on AzureOpenAIConfig { deploymentName } } } } }`;
const DELETE = 'mutation($id: ID!) { deleteCatalogEntry(input: { id: $id }) { deletedId } }';

type Entry = { databaseId: string; modelName: string; modelProvider: string; createdAt: string; id: string; organizationId: string | null };

async function list(token: string, variables: Record<string, unknown>) {
  return ok(await t.request<any>(LIST, variables, { token })).catalogEntries;
}

async function walk(token: string, variables: Record<string, unknown>, backward = false): Promise<Entry[]> {
  const seen: Entry[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page: any = await list(token, backward ? { ...variables, last: 3, before: cursor } : { ...variables, first: 3, after: cursor });
    const nodes = page.edges.map((e: any) => e.node);
    if (backward) seen.unshift(...nodes);
    else seen.push(...nodes);
    if (!(backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage)) return seen;
    cursor = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
  }
  throw new Error('did not finish');
}

beforeAll(async () => {
  t = await startTestApp({}, {
    onQuery: (sql) => {
      statements++;
      // Every scoped transaction starts with one set_config statement.
      if (sql.includes('set_config')) transactions++;
    },
  });
  a = await t.organization('A');
  b = await t.organization('B');
  // 24 rows of A sharing one created_at, with names that exercise the filters.
  await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, async (tx) => {
    const provider = await tx.agentCustomProvider.create({ data: { organizationId: a.id, displayName: 'Gateway' } });
    providerId = provider.id;
    for (let i = 0; i < 20; i++) {
      await tx.agentCatalog.create({
        data: {
          organizationId: a.id,
          modelProvider: i % 2 ? 'vertex_ai' : 'bedrock',
          modelName: `shared-${String(i).padStart(2, '0')}`,
          modelMetadata: i % 3 === 0 ? { supports_vision: true, supports_function_calling: true } : { supports_vision: true },
        },
      });
    }
    for (const name of ['100%_real', '100xxreal', 'UPPER-Case']) {
      await tx.agentCatalog.create({ data: { organizationId: a.id, modelProvider: 'azure_ai', modelName: name } });
    }
    await tx.agentCatalog.create({
      data: { organizationId: a.id, customProviderId: provider.id, modelProvider: 'custom-model-provider', modelName: 'discovered' },
    });
  });
  await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
    tx.agentCatalog.create({ data: { organizationId: b.id, modelProvider: 'bedrock', modelName: 'b-secret-model' } }),
  );
});
afterAll(() => t.close());

describe('platform catalog', () => {
  it('is seeded at startup with typed capabilities, limits and pricing', async () => {
    const page = await list(a.token, { first: 100, filter: { origin: 'PLATFORM', modelNameContains: 'gpt-5' } });
    expect(page.totalCount).toBeGreaterThan(0);
    const raw = ok(await t.request<any>('{ catalogEntries(first: 100, filter: { origin: PLATFORM }) { totalCount edges { node { modelProvider limits { maxInputTokens } pricing { inputCostPerToken } capabilities } } } }', {}, { token: a.token })).catalogEntries;
    expect(raw.totalCount).toBeGreaterThanOrEqual(89);
    expect(new Set(raw.edges.map((e: any) => e.node.modelProvider))).toEqual(new Set(['anthropic', 'gemini', 'mistral', 'openai']));
    expect(raw.edges.some((e: any) => e.node.limits.maxInputTokens > 0 && e.node.pricing.inputCostPerToken > 0 && e.node.capabilities.includes('function_calling'))).toBe(true);
  });

  it('re-seeding keeps ids and counts; malformed elements are skipped with a warning naming them', async () => {
    const before = await t.services.database.prisma.agentCatalog.findMany({ where: { organizationId: null }, orderBy: { id: 'asc' }, select: { id: true } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-catalog-'));
    const file = path.join(dir, 'models.json');
    fs.writeFileSync(file, JSON.stringify({ models: [
      { provider: 'openai', name: 'file-model', limits: { maxInputTokens: 10 }, capabilities: ['vision'] },
      { provider: 'openai', name: '', capabilities: 'broken' },
    ] }));
    const again = await startTestApp({ PLATFORM_CATALOG_FILE: file });
    try {
      expect(again.logs.join('\n')).toMatch(/platform model #1 \(openai\/\) is malformed; skipped/);
      const rows = await again.services.database.prisma.agentCatalog.findMany({ where: { organizationId: null, modelName: 'file-model' } });
      expect(rows).toHaveLength(1);
      expect(rows[0]!.modelMetadata).toEqual({ max_input_tokens: 10, supports_vision: true });
    } finally {
      await again.close();
    }
    const unreadable = await startTestApp({ PLATFORM_CATALOG_FILE: path.join(dir, 'missing.json') });
    try {
      expect(unreadable.logs.join('\n')).toMatch(/platform catalog file unreadable/);
      const { token } = await unreadable.organization();
      ok(await unreadable.request('{ viewer { subject } }', {}, { token }));
    } finally {
      await unreadable.close();
    }
    const { seedPlatformCatalog, PLATFORM_MODELS_FILE } = await import('../../src/modules/catalog/platform.ts');
    await seedPlatformCatalog(t.services.database.prisma, PLATFORM_MODELS_FILE, t.services.logger);
    const after = await t.services.database.prisma.agentCatalog.findMany({ where: { organizationId: null }, orderBy: { id: 'asc' }, select: { id: true } });
    expect(after).toEqual(before);
  });

  it('upsertPlatformCatalog reports inserted and updated, refuses duplicates, needs platform:admin', async () => {
    const UPSERT = 'mutation($entries: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $entries }) { insertedCount updatedCount } }';
    const admin = await t.token({ scopes: ['platform:admin'] });
    const entries = [{ modelProvider: 'openai', modelName: 'gpt-upserted', metadata: { max_input_tokens: 5 } }, { modelProvider: 'openai', modelName: 'gpt-5' }];
    const first = ok(await t.request<any>(UPSERT, { entries }, { token: admin })).upsertPlatformCatalog;
    expect(first).toEqual({ insertedCount: 1, updatedCount: 1 });
    expect(ok(await t.request<any>(UPSERT, { entries }, { token: admin })).upsertPlatformCatalog).toEqual({ insertedCount: 0, updatedCount: 2 });
    expect(codes(await t.request(UPSERT, { entries: [entries[0], entries[0]] }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    const tenant = await t.token({ organizationId: a.id, scopes: ['agent:update'] });
    expect(codes(await t.request(UPSERT, { entries }, { token: tenant }))).toEqual(['FORBIDDEN']);
  });
});

describe('catalogEntries', () => {
  it('combines every filter with AND and escapes % and _', async () => {
    const names = async (filter: Record<string, unknown>) =>
      (await list(a.token, { first: 100, filter })).edges.map((e: any) => e.node.modelName).filter((n: string) => !n.startsWith('gpt') && !n.includes('claude'));
    expect(await names({ modelNameContains: '%_' })).toEqual(['100%_real']);
    expect(await names({ modelNameContains: 'upper-case' })).toEqual(['UPPER-Case']);
    expect((await names({ provider: 'vertex_ai', origin: 'ORGANIZATION' })).length).toBe(10);
    expect(await names({ origin: 'CUSTOM_PROVIDER' })).toEqual(['discovered']);
    expect(await names({ customProviderId: encodeGlobalId('CustomProvider', providerId) })).toEqual(['discovered']);
    expect((await names({ capabilities: ['vision', 'function_calling'], origin: 'ORGANIZATION' })).length).toBe(7);
    expect(await names({ enabledForOrganization: true, origin: 'ORGANIZATION' })).toEqual([]);
    const all = await list(a.token, { first: 1, filter: { origin: 'ORGANIZATION' } });
    expect(all.totalCount).toBe(23);
    expect(codes(await t.request(LIST, { filter: { capabilities: ['Not Valid'] } }, { token: a.token }))).toEqual(['BAD_USER_INPUT']);
  });

  it.each([
    ['CREATED_AT', 'ASC'], ['CREATED_AT', 'DESC'], ['MODEL_NAME', 'ASC'], ['MODEL_NAME', 'DESC'], ['MODEL_PROVIDER', 'ASC'], ['MODEL_PROVIDER', 'DESC'],
  ])('walks every page in both directions ordered by %s %s, rows sharing created_at included', async (field, direction) => {
    const variables = { filter: { origin: 'ORGANIZATION' }, orderBy: { field, direction } };
    const forward = await walk(a.token, variables);
    const backward = await walk(a.token, variables, true);
    expect(forward.map((e) => e.databaseId)).toEqual(backward.map((e) => e.databaseId));
    expect(new Set(forward.map((e) => e.databaseId)).size).toBe(23);
    const key = (e: Entry) =>
      field === 'CREATED_AT' ? [e.createdAt, e.databaseId] : field === 'MODEL_NAME' ? [e.modelName, e.databaseId] : [e.modelProvider, e.modelName, e.databaseId];
    const sign = direction === 'ASC' ? 1 : -1;
    const compare = (x: Entry, y: Entry) => {
      const [kx, ky] = [key(x), key(y)];
      for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return (kx[i]! < ky[i]! ? -1 : 1) * sign;
      return 0;
    };
    const collator = [...forward].sort(compare);
    // Database collation may differ from JS ordering for mixed case; ids and ties must agree.
    if (field === 'CREATED_AT') expect(forward.map((e) => e.databaseId)).toEqual(collator.map((e) => e.databaseId));
  });

  it('refuses a cursor of another order and never shows another organization\'s rows', async () => {
    const page = await list(a.token, { first: 2, orderBy: { field: 'MODEL_NAME', direction: 'ASC' } });
    const response = await t.request(LIST, { first: 2, after: page.pageInfo.endCursor }, { token: a.token });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
    const seenByB = await list(b.token, { first: 100, filter: { origin: 'ORGANIZATION' } });
    expect(seenByB.edges.map((e: any) => e.node.modelName)).toEqual(['b-secret-model']);
  });

  it('costs the same number of SQL statements for 5 entries as for 50, all in one transaction', async () => {
    const QUERY = 'query($n: Int) { catalogEntries(first: $n) { edges { node { modelName enabledForOrganization customProvider { displayName } } } } }';
    const count = async (n: number) => {
      statements = 0;
      transactions = 0;
      const data = ok(await t.request<any>(QUERY, { n }, { token: a.token }));
      expect(data.catalogEntries.edges.some((edge: any) => edge.node.customProvider !== null)).toBe(true);
      return { statements, transactions };
    };
    // Distinct page sizes: each answer is computed (the response cache keys on variables).
    await count(4);
    const small = await count(5);
    const large = await count(50);
    expect(large).toEqual(small);
    // One transaction: its scope statement, the page with providers and grants joined in, COMMIT.
    expect(large.transactions).toBe(1);
    expect(large.statements).toBe(3);
  });
});

describe('capabilities, limits and pricing', () => {
  it('are derived from the metadata by the rules of SPEC §3, also for odd values, and the raw document stays readable', async () => {
    const odd = {
      supports_zeta: true, supports_alpha: true, supports_string: 'true', supports_off: false, xsupports_prefixed: true,
      max_input_tokens: 1.5, max_output_tokens: 3_000_000_000, input_cost_per_token: -1, output_cost_per_token: '0.1',
    };
    const good = { supports_vision: true, max_input_tokens: 1e3, max_output_tokens: 2_147_483_647, input_cost_per_token: 0, output_cost_per_token: 3e-7 };
    await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, (tx) =>
      tx.agentCatalog.createMany({
        data: [
          { organizationId: a.id, modelProvider: 'derived-check', modelName: 'odd', modelMetadata: odd },
          { organizationId: a.id, modelProvider: 'derived-check', modelName: 'good', modelMetadata: good },
        ],
      }),
    );
    const QUERY = `query($metadata: Boolean!) { catalogEntries(first: 5, filter: { provider: "derived-check" }, orderBy: { field: MODEL_NAME, direction: ASC }) {
      edges { node { modelName capabilities limits { maxInputTokens maxOutputTokens } pricing { inputCostPerToken outputCostPerToken } metadata @include(if: $metadata) } } } }`;
    const nodes = (metadata: boolean) =>
      t.request<any>(QUERY, { metadata }, { token: a.token }).then((r) => ok(r).catalogEntries.edges.map((e: any) => e.node));
    const derived = [
      { modelName: 'good', capabilities: ['vision'], limits: { maxInputTokens: 1000, maxOutputTokens: 2_147_483_647 }, pricing: { inputCostPerToken: 0, outputCostPerToken: 3e-7 } },
      { modelName: 'odd', capabilities: ['alpha', 'zeta'], limits: { maxInputTokens: null, maxOutputTokens: null }, pricing: { inputCostPerToken: null, outputCostPerToken: null } },
    ];
    expect(await nodes(false)).toEqual(derived);
    expect(await nodes(true)).toEqual([{ ...derived[0], metadata: good }, { ...derived[1], metadata: odd }]);
  });
});

describe('nested model connections', () => {
  it('fetch every provider\'s models page in one batch: one query per provider, transactions constant', async () => {
    const QUERY = '{ customProviders(first: 20) { edges { node { models(first: 2) { totalCount edges { node { modelName } } } } } } }';
    const count = async () => {
      statements = 0;
      transactions = 0;
      const data = ok(await t.request<any>(QUERY, {}, { token: a.token }));
      return { statements, transactions, providers: data.customProviders.edges.length };
    };
    const one = await count();
    await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, async (tx) => {
      for (let i = 0; i < 4; i++) {
        const provider = await tx.agentCustomProvider.create({ data: { organizationId: a.id, displayName: `extra ${i}` } });
        for (let j = 0; j < 3; j++) {
          await tx.agentCatalog.create({ data: { organizationId: a.id, customProviderId: provider.id, modelProvider: 'custom-model-provider', modelName: `extra-${i}-${j}` } });
        }
      }
    });
    const five = await count();
    expect(five.providers).toBe(one.providers + 4);
    expect(five.transactions).toBe(one.transactions);
    // A page and a count per provider, never a load of every child.
    expect(five.statements).toBe(one.statements + 4 * 2);
  });
});

describe('organization cloud entries', () => {
  it('creates entries for all four providers, enabled in the same transaction', async () => {
    const configs = [
      [{ bedrock: { modelId: 'anthropic.claude' } }, 'bedrock', { __typename: 'BedrockConfig', modelId: 'anthropic.claude', inferenceProfileId: null, useConverse: false }],
      [{ azureOpenai: { deploymentName: 'gpt-dep' } }, 'azure_openai', { __typename: 'AzureOpenAIConfig', deploymentName: 'gpt-dep' }],
      [{ azureAi: { azureAiModelName: 'phi' } }, 'azure_ai', { __typename: 'AzureAIConfig', azureAiModelName: 'phi' }],
      [{ vertexAi: { vertexModel: 'gemini-pro' } }, 'vertex_ai', { __typename: 'VertexAIConfig', vertexModel: 'gemini-pro' }],
    ] as const;
    for (const [config, provider, view] of configs) {
      const created = ok(await t.request<any>(CREATE, { input: { modelName: `cloud-${provider}`, displayName: 'Cloud', config } }, { token: b.token })).createCatalogEntry;
      expect(created.catalogEntry).toMatchObject({ modelProvider: provider, origin: 'ORGANIZATION', enabledForOrganization: true, cloudConfig: view });
      expect(created.modelAccess).toEqual({ level: 'ORGANIZATION', workspace: null });
    }
    // A page shows the same settings, whether or not it also asks for the metadata.
    const LISTED = `{ catalogEntries(first: 10, filter: { origin: ORGANIZATION, modelNameContains: "cloud-" }, orderBy: { field: MODEL_NAME, direction: ASC }) {
      edges { node { modelName cloudConfig { __typename ... on BedrockConfig { modelId } ... on VertexAIConfig { vertexModel } } } } } }`;
    const listed = ok(await t.request<any>(LISTED, {}, { token: b.token })).catalogEntries.edges.map((edge: any) => edge.node);
    expect(listed.map((node: any) => node.cloudConfig?.__typename)).toEqual(['AzureAIConfig', 'AzureOpenAIConfig', 'BedrockConfig', 'VertexAIConfig']);
    expect(listed.find((node: any) => node.modelName === 'cloud-bedrock').cloudConfig.modelId).toBe('anthropic.claude');
  });

  it('validates the config and refuses duplicates, also under concurrency', async () => {
    const bad = [
      { bedrock: { modelId: 'a', inferenceProfileId: 'b' } },
      { bedrock: {} },
      { bedrock: { modelId: '   ' } },
      { vertexAi: { vertexModel: 'x'.repeat(501) } },
    ];
    for (const config of bad) {
      expect(codes(await t.request(CREATE, { input: { modelName: 'bad', config } }, { token: b.token }))).toEqual(['BAD_USER_INPUT']);
    }
    const twoMembers = await t.request(CREATE, { input: { modelName: 'bad', config: { bedrock: { modelId: 'a' }, vertexAi: { vertexModel: 'v' } } } }, { token: b.token });
    expect(twoMembers.errors?.length).toBeGreaterThan(0);
    expect(codes(await t.request(CREATE, { input: { modelName: 'x'.repeat(501), config: { vertexAi: { vertexModel: 'v' } } } }, { token: b.token }))).toEqual(['BAD_USER_INPUT']);
    const input = { modelName: 'raced', config: { vertexAi: { vertexModel: 'v' } } };
    const results = await Promise.all(Array.from({ length: 8 }, () => t.request(CREATE, { input }, { token: b.token })));
    expect(results.filter((r) => !r.errors).length).toBe(1);
    expect(results.flatMap(codes).every((c) => c === 'CONFLICT')).toBe(true);
  });

  it('merges updates, checks the provider and the bedrock rule, and protects other rows', async () => {
    const created = ok(await t.request<any>(CREATE, { input: { modelName: 'merge-me', displayName: 'Shown', config: { bedrock: { modelId: 'm' } } } }, { token: b.token })).createCatalogEntry.catalogEntry;
    const update = (input: Record<string, unknown>) => t.request<any>(UPDATE, { input: { id: created.id, ...input } }, { token: b.token });
    expect(ok(await update({ config: { bedrock: { useConverse: true } } })).updateCatalogEntry.catalogEntry).toMatchObject({ displayName: 'Shown', cloudConfig: { modelId: 'm', useConverse: true } });
    expect(codes(await update({ config: { bedrock: { inferenceProfileId: 'p' } } }))).toEqual(['BAD_USER_INPUT']);
    expect(ok(await update({ config: { bedrock: { inferenceProfileId: 'p', modelId: null } } })).updateCatalogEntry.catalogEntry.cloudConfig).toMatchObject({ inferenceProfileId: 'p', modelId: null });
    expect(codes(await update({ config: { azureOpenai: { deploymentName: 'd' } } }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await update({ displayName: 'x'.repeat(201) }))).toEqual(['BAD_USER_INPUT']);
    expect(ok(await update({ displayName: null })).updateCatalogEntry.catalogEntry.displayName).toBeNull();
    // Another organization, a platform row, a discovered row: not found.
    expect(codes(await t.request(UPDATE, { input: { id: created.id, displayName: 'x' } }, { token: a.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request(DELETE, { id: created.id }, { token: a.token }))).toEqual(['NOT_FOUND']);
    const platform = (await list(a.token, { first: 1, filter: { origin: 'PLATFORM' } })).edges[0].node.id;
    expect(codes(await t.request(UPDATE, { input: { id: platform, displayName: 'x' } }, { token: a.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request(DELETE, { id: platform }, { token: a.token }))).toEqual(['NOT_FOUND']);
    const discovered = (await list(a.token, { first: 1, filter: { origin: 'CUSTOM_PROVIDER' } })).edges[0].node.id;
    expect(codes(await t.request(DELETE, { id: discovered }, { token: a.token }))).toEqual(['NOT_FOUND']);
    // Delete takes the grants with it.
    expect(ok(await t.request<any>(DELETE, { id: created.id }, { token: b.token })).deleteCatalogEntry.deletedId).toBe(created.id);
    expect(await t.services.database.prisma.agentModelAccess.count({ where: { catalogId: created.databaseId } })).toBe(0);
  });

  it('keeps platform rows read-only for tenants at the database level too', async () => {
    await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, async (tx) => {
      expect(await tx.$executeRaw`UPDATE agent_catalog SET model_name = 'hijacked' WHERE organization_id IS NULL`).toBe(0);
      expect(await tx.$executeRaw`DELETE FROM agent_catalog WHERE organization_id IS NULL`).toBe(0);
    });
    await expect(
      scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, (tx) =>
        tx.$executeRaw`INSERT INTO agent_catalog (model_provider, model_name) VALUES ('openai', 'forged')`,
      ),
    ).rejects.toThrow();
  });

  it('audits every mutation once, with the error code of failures and no argument values', async () => {
    const events = ok(await t.request<any>('{ auditEvents(first: 100, filter: { resourceType: "agent_catalog" }) { totalCount edges { node { action status errorCode resourceId organizationId } } } }', {}, { token: b.token })).auditEvents;
    expect(events.edges.some((e: any) => e.node.status === 'SUCCESS' && e.node.action === 'create' && e.node.resourceId)).toBe(true);
    expect(events.edges.some((e: any) => e.node.status === 'FAILURE' && e.node.errorCode === 'CONFLICT')).toBe(true);
    expect(events.edges.some((e: any) => e.node.status === 'FAILURE' && e.node.errorCode === 'BAD_USER_INPUT')).toBe(true);
    expect(events.edges.every((e: any) => e.node.organizationId === b.id)).toBe(true);
    const failures = ok(await t.request<any>('{ auditEvents(filter: { status: FAILURE }) { totalCount } }', {}, { token: b.token })).auditEvents.totalCount;
    expect(failures).toBeGreaterThan(0);
    const rows = await t.services.database.prisma.auditEvent.findMany({ where: { organizationId: b.id } });
    expect(JSON.stringify(rows)).not.toContain('merge-me');
    const withoutScope = await t.token({ organizationId: b.id, scopes: ['agent:read'] });
    expect(codes(await t.request('{ auditEvents { totalCount } }', {}, { token: withoutScope }))).toEqual(['FORBIDDEN']);
  });
});
