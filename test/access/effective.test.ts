import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import {
  AccessNodeDocument,
  DisableModelDocument,
  WorkspaceModelsDocument,
  WorkspacesEffectiveModelsDocument,
  type WorkspaceModelsQuery,
} from '../generated/graphql.ts';
import { fixtures, grantGid, workspaceGid, enableThroughApi } from './fixtures.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;

beforeAll(async () => {
  t = await startTestApp();
  f = fixtures(t);
});
afterAll(() => t.close());

const enable = (token: string, catalogId: string, workspaceId?: string) => enableThroughApi(t, token, catalogId, workspaceId);

const listModels = (token: string, workspaceId: string, variables: Record<string, unknown> = {}) =>
  t.request(WorkspaceModelsDocument, { workspaceId: workspaceGid(workspaceId), ...variables }, { token });

async function modelsOf(token: string, workspaceId: string) {
  const connection = ok(await listModels(token, workspaceId, { first: 100 }))
    .workspaceModels;
  expect(connection.totalCount).toBe(connection.edges.length);
  return connection.edges.map((edge) => edge.node.modelName);
}

async function effectiveByWorkspace(token: string) {
  const data = ok(await t.request(WorkspacesEffectiveModelsDocument, { workspaces: 10, first: 20 }, { token }));
  return new Map(
    data.workspaces.edges.map(({ node }) => [
      node.databaseId,
      { override: node.hasAccessOverride, models: node.effectiveModels.edges.map((edge) => edge.node.modelName) },
    ]),
  );
}

describe('effective models of a workspace', () => {
  it('follows the organization, is replaced by any own grant, and reverts when the last one goes', async () => {
    const org = await t.organization('Override');
    const [alpha, beta, gamma] = await Promise.all(['alpha', 'beta', 'gamma'].map((name) => f.orgEntry(org.id, name)));
    const workspace = await f.workspace(org.id);
    const sibling = await f.workspace(org.id);

    // A new organization starts with nothing.
    expect(await modelsOf(org.token, workspace.id)).toEqual([]);

    await enable(org.token, alpha!.id);
    await enable(org.token, beta!.id);
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha', 'beta']);

    // One own grant replaces the organization's set — even for an entry the organization has not enabled.
    const own = await enable(org.token, gamma!.id, workspace.id);
    expect(await modelsOf(org.token, workspace.id)).toEqual(['gamma']);
    expect(await modelsOf(org.token, sibling.id)).toEqual(['alpha', 'beta']);
    let effective = await effectiveByWorkspace(org.token);
    expect(effective.get(workspace.id)).toEqual({ override: true, models: ['gamma'] });
    expect(effective.get(sibling.id)).toEqual({ override: false, models: ['alpha', 'beta'] });

    // Own grants are the set, not added to it.
    const second = await enable(org.token, alpha!.id, workspace.id);
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha', 'gamma']);

    // Organization changes do not reach an overriding workspace.
    const orgBeta = (await f.grantsOf(org.id)).find((grant) => grant.catalogId === beta!.id && grant.workspaceId === null)!;
    ok(await t.request(DisableModelDocument, { id: grantGid(orgBeta.id) }, { token: org.token }));
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha', 'gamma']);
    expect(await modelsOf(org.token, sibling.id)).toEqual(['alpha']);

    // Removing the own grants one by one: the last removal reverts to the organization's set.
    ok(await t.request(DisableModelDocument, { id: own.id }, { token: org.token }));
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha']);
    ok(await t.request(DisableModelDocument, { id: second.id }, { token: org.token }));
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha']);
    effective = await effectiveByWorkspace(org.token);
    expect(effective.get(workspace.id)).toEqual({ override: false, models: ['alpha'] });

    // Re-enabling beta for the organization shows in both workspaces again.
    await enable(org.token, beta!.id);
    expect(await modelsOf(org.token, workspace.id)).toEqual(['alpha', 'beta']);
  });

  it('counts only visible entries and applies CatalogEntryFilter', async () => {
    const org = await t.organization('Filters');
    const provider = await f.customProvider(org.id);
    const platformModel = await f.platformEntry('shared-vision', 'test-filter-platform');
    const own = await f.orgEntry(org.id, 'shared_100%', 'azure_openai');
    const custom = await f.customEntry(org.id, provider.id, 'shared-custom');
    const notGranted = await f.orgEntry(org.id, 'shared-not-granted', 'vertex_ai');
    for (const entry of [platformModel, own, custom]) await enable(org.token, entry.id);
    const workspace = await f.workspace(org.id);

    const names = async (filter: Record<string, unknown>) =>
      ok(await listModels(org.token, workspace.id, { filter }))
        .workspaceModels.edges.map((edge) => edge.node.modelName);

    expect(await names({})).toEqual(['shared_100%', 'shared-custom', 'shared-vision']);
    expect(await names({ provider: 'azure_openai' })).toEqual(['shared_100%']);
    expect(await names({ modelNameContains: '_100%' })).toEqual(['shared_100%']);
    expect(await names({ modelNameContains: 'SHARED-' })).toEqual(['shared-custom', 'shared-vision']);
    expect(await names({ origin: 'CUSTOM_PROVIDER' })).toEqual(['shared-custom']);
    expect(await names({ origin: 'PLATFORM' })).toEqual(['shared-vision']);
    expect(await names({ enabledForOrganization: false })).toEqual([]);
    expect(await names({ origin: 'ORGANIZATION', provider: 'bedrock' })).toEqual([]);

    // The same filter on Workspace.effectiveModels.
    const platformOnly = { workspaces: 10, first: 10, filter: { origin: 'PLATFORM' as const } };
    const data = ok(await t.request(WorkspacesEffectiveModelsDocument, platformOnly, { token: org.token }));
    expect(data.workspaces.edges[0]!.node.effectiveModels.edges.map((edge) => edge.node.modelName)).toEqual(['shared-vision']);

    // A workspace grant for the not-granted entry overrides; the filter still applies on top.
    await enable(org.token, notGranted.id, workspace.id);
    expect(await names({})).toEqual(['shared-not-granted']);
    expect(await names({ enabledForOrganization: true })).toEqual([]);
    expect(codes(await listModels(org.token, workspace.id, { filter: { provider: 'x'.repeat(121) } })))
      .toEqual(['BAD_USER_INPUT']);
  });

  it('pages over more than 100 entries in both directions, ordered by provider, name and id', async () => {
    const org = await t.organization('Pages');
    const workspace = await f.workspace(org.id);
    const providers = await Promise.all([1, 2, 3].map(() => f.customProvider(org.id)));
    const entries = [];
    const name = (i: number) => `m${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 50; i += 1) entries.push(await f.orgEntry(org.id, name(i), i % 2 ? 'acme' : 'bedrock'));
    // The same provider and name under two custom providers: only the id tells them apart.
    for (let i = 0; i < 20; i += 1) {
      for (const provider of providers) entries.push(await f.customEntry(org.id, provider.id, name(i)));
    }
    await f.grant(org.id, entries.map((entry) => entry.id), workspace.id);
    const expected = [...entries]
      .sort((a, b) => cmp(a.modelProvider, b.modelProvider) || cmp(a.modelName, b.modelName) || cmp(a.id, b.id))
      .map((entry) => entry.id);
    expect(expected.length).toBeGreaterThan(100);

    type Page = WorkspaceModelsQuery['workspaceModels'];
    const page = async (variables: Record<string, unknown>): Promise<Page> =>
      ok(await listModels(org.token, workspace.id, variables))
        .workspaceModels;

    const forward: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const current: Page = await page({ first: 17, after });
      expect(current.totalCount).toBe(expected.length);
      expect(current.pageInfo.hasPreviousPage).toBe(after !== null);
      forward.push(...current.edges.map((edge) => edge.node.databaseId));
      pages += 1;
      if (!current.pageInfo.hasNextPage) break;
      after = current.pageInfo.endCursor ?? null;
    }
    expect(forward).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 17));

    const backward: string[] = [];
    let before: string | null = null;
    for (;;) {
      const current: Page = await page({ last: 23, before });
      backward.unshift(...current.edges.map((edge) => edge.node.databaseId));
      if (!current.pageInfo.hasPreviousPage) break;
      before = current.pageInfo.startCursor ?? null;
    }
    expect(backward).toEqual(expected);

    // The default page is 50 and the maximum 100; beyond that, BAD_USER_INPUT.
    expect((await page({})).edges).toHaveLength(50);
    expect((await page({ first: 100 })).edges).toHaveLength(100);
    for (const variables of [{ first: 101 }, { first: 0 }, { first: 1, last: 1 }, { after: 'bogus' }]) {
      expect(codes(await listModels(org.token, workspace.id, variables)))
        .toEqual(['BAD_USER_INPUT']);
    }
    // Each workspace of a list pages on its own; hasNextPage leads on to the rest.
    const listed = ok(await t.request(WorkspacesEffectiveModelsDocument, { workspaces: 10, first: 5 }, { token: org.token }));
    const connection = listed.workspaces.edges[0]!.node.effectiveModels;
    expect(connection.totalCount).toBe(expected.length);
    expect(connection.pageInfo.hasNextPage).toBe(true);
    expect(connection.edges.map((edge) => edge.node.databaseId)).toEqual(expected.slice(0, 5));
    const next = await page({ first: 5, after: connection.pageInfo.endCursor });
    expect(next.edges.map((edge) => edge.node.databaseId)).toEqual(expected.slice(5, 10));
  });
});

describe('access to workspace models', () => {
  it('lets a workspace-bound token see its own workspace only', async () => {
    const org = await t.organization('Bound');
    const entry = await f.orgEntry(org.id, 'bound-model');
    await enable(org.token, entry.id);
    const mine = await f.workspace(org.id);
    const theirs = await f.workspace(org.id);
    const bound = await t.token({ organizationId: org.id, workspaceId: mine.id, scopes: ['agent:read'] });

    expect(await modelsOf(bound, mine.id)).toEqual(['bound-model']);
    expect(codes(await listModels(bound, theirs.id))).toEqual(['FORBIDDEN']);
    const listing = await t.request(WorkspacesEffectiveModelsDocument, { workspaces: 10, first: 10 }, { token: bound });
    expect(codes(listing)).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(AccessNodeDocument, { id: workspaceGid(mine.id) }, { token: bound }))).toEqual(['FORBIDDEN']);

    const withoutScope = await t.token({ organizationId: org.id, workspaceId: mine.id, scopes: ['agent:credentials:read'] });
    expect(codes(await listModels(withoutScope, mine.id)))
      .toEqual(['FORBIDDEN']);
  });

  it('answers NOT_FOUND for unknown and foreign workspaces, whose grants stay invisible and unchanged', async () => {
    const org = await t.organization('Mine');
    const other = await t.organization('Theirs');
    const theirEntry = await f.orgEntry(other.id, 'their-secret-model');
    const theirWorkspace = await f.workspace(other.id);
    await enable(other.token, theirEntry.id);
    await enable(other.token, theirEntry.id, theirWorkspace.id);
    const before = await f.grantsOf(other.id);

    for (const id of [theirWorkspace.id, '00000000-0000-4000-8000-00000000abcd']) {
      expect(codes(await listModels(org.token, id))).toEqual(['NOT_FOUND']);
    }
    const rawId = await t.request(WorkspaceModelsDocument, { workspaceId: theirWorkspace.id }, { token: org.token });
    expect(codes(rawId)).toEqual(['BAD_USER_INPUT']);

    // My own workspaces never see their entries, through either field.
    const mine = await f.workspace(org.id);
    expect(await modelsOf(org.token, mine.id)).toEqual([]);
    const effective = await effectiveByWorkspace(org.token);
    expect([...effective.keys()]).toEqual([mine.id]);
    expect(effective.get(mine.id)).toEqual({ override: false, models: [] });
    expect(await f.grantsOf(other.id)).toEqual(before);
    expect(await modelsOf(other.token, theirWorkspace.id)).toEqual(['their-secret-model']);
  });
});

function cmp(a: string, b: string) {
  return a < b ? -1 : a > b ? 1 : 0;
}

describe('batching', () => {
  it('loads effective models of a list of workspaces in a constant number of transactions', async () => {
    const org = await t.organization('Batch');
    const entries = await Promise.all(['b1', 'b2', 'b3'].map((name) => f.orgEntry(org.id, name)));
    await f.grant(org.id, entries.map((entry) => entry.id));
    const prisma = t.services.database.prisma;
    const original = prisma.$transaction.bind(prisma);
    let transactions = 0;
    const countTransactions = async (first = 10) => {
      transactions = 0;
      const data = ok(await t.request(WorkspacesEffectiveModelsDocument, { workspaces: 20, first }, { token: org.token }));
      return { transactions, workspaces: data.workspaces.edges };
    };
    (prisma as { $transaction: unknown }).$transaction = (...args: Parameters<typeof original>) => {
      transactions += 1;
      return original(...args);
    };
    try {
      await f.workspace(org.id);
      await countTransactions(9); // warms the token's organization lookup (other variables: no cached answer)
      const one = await countTransactions();
      const overriding = await f.workspace(org.id);
      await f.grant(org.id, [entries[0]!.id], overriding.id);
      for (let i = 0; i < 8; i += 1) await f.workspace(org.id);
      const ten = await countTransactions();

      expect(one.workspaces).toHaveLength(1);
      expect(ten.workspaces).toHaveLength(10);
      const counts = ten.workspaces.map(({ node }) => [node.databaseId === overriding.id, node.effectiveModels.totalCount]);
      expect(counts.filter(([overridden]) => overridden)).toEqual([[true, 1]]);
      expect(counts.filter(([overridden, count]) => !overridden && count === 3)).toHaveLength(9);
      expect(one.transactions).toBeGreaterThan(0);
      expect(ten.transactions).toBe(one.transactions);
    } finally {
      (prisma as { $transaction: unknown }).$transaction = original;
    }
  });
});
