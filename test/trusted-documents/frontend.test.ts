import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { documentIdOf, runById, send } from '../support/documents.ts';
import { fakeProvider, json } from '../providers/fake-provider.ts';
import { subscribeSse, subscribeWs, untilSubscribed } from '../changes/feed-client.ts';
import {
  CatalogEntriesDocument,
  CustomProvidersDocument,
  DefaultModelDocument,
  DeleteModelAliasDocument,
  EnableModelDocument,
  ModelAliasesDocument,
  ResolveModelAliasDocument,
  SetModelAliasDocument,
  ModelSettingsChangesDocument,
  SetDefaultModelDocument,
  WorkspaceGrantsDocument,
} from '../../frontend/generated/graphql.ts';

// What `npm run codegen` writes for the frontend's operations (frontend/operations).
const MANIFEST = 'frontend/generated/persisted-documents.json';

let t: TestApp;
let url: string;
let provider: Awaited<ReturnType<typeof fakeProvider>>;

beforeAll(async () => {
  t = await startTestApp({ PERSISTED_DOCUMENTS: 'require', PERSISTED_DOCUMENTS_FILE: MANIFEST, DISCOVERY_REFRESH_TIMEOUT_MS: '3000' });
  url = await t.listen();
  provider = await fakeProvider();
  provider.answer((_req, res) => json(res, { data: [{ id: 'settings-b' }, { id: 'settings-a' }] }));
});
afterAll(async () => {
  await provider.close();
  await t.close();
});

/** What an integration (a service token, which may send text) sets up before the page opens. */
async function setUp(service: string) {
  const created = ok(
    await send(t.app, {
      query: 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }',
      variables: { input: { displayName: 'Team gateway', baseUrl: provider.url } },
    }, { token: service }),
  ).createCustomProvider.customProvider;
  ok(await send(t.app, { query: 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', variables: { id: created.id } }, { token: service }));
  const workspace = ok(
    await send(t.app, { query: 'mutation { createWorkspace(input: { name: "settings" }) { workspace { id } } }' }, { token: service }),
  ).createWorkspace.workspace;
  return { providerId: created.id as string, workspaceId: workspace.id as string };
}

describe("the frontend's trusted documents under PERSISTED_DOCUMENTS=require", () => {
  it('run by id with a user token, each answering what the model-settings page shows; their text is refused', async () => {
    const org = await t.organization();
    const user = org.token;
    const service = await t.token({ organizationId: org.id, subject: 'integration', actorType: 'service' });
    const { providerId, workspaceId } = await setUp(service);
    const used = new Set<string>();
    const run = <T, V>(document: TypedDocumentNode<T, V>, variables: V, options: { method?: 'GET' | 'POST' } = {}) => {
      used.add(documentIdOf(document));
      return runById(t.app, document, variables, { token: user, ...options });
    };

    const changes = { filter: { subjectTypes: ['MODEL_ACCESS', 'DEFAULT_MODEL'] } };
    used.add(documentIdOf(ModelSettingsChangesDocument));
    const subscriptions = [
      subscribeWs(url, user, { documentId: documentIdOf(ModelSettingsChangesDocument), ...changes }),
      subscribeSse(t, user, { documentId: documentIdOf(ModelSettingsChangesDocument), ...changes }),
    ];
    await untilSubscribed(t, subscriptions.length);

    const providers = ok(await run(CustomProvidersDocument, { first: 10 })).customProviders;
    expect(providers.totalCount).toBe(1);
    expect(providers.edges[0]!.node).toMatchObject({ id: providerId, displayName: 'Team gateway', discoveryStatus: 'SUCCEEDED', lastDiscoveryError: null, hasApiKey: false });
    expect(providers.edges[0]!.node.lastRefreshedAt).toEqual(expect.any(String));

    const catalog = ok(
      await run(CatalogEntriesDocument, {
        filter: { customProviderId: providerId },
        orderBy: { field: 'MODEL_NAME', direction: 'ASC' },
        first: 10,
      }, { method: 'GET' }),
    ).catalogEntries;
    expect(catalog.edges.map((edge) => edge.node.modelName)).toEqual(['settings-a', 'settings-b']);
    // Discovered models are enabled for the organization as they are discovered.
    expect(catalog.edges.every((edge) => edge.node.origin === 'CUSTOM_PROVIDER' && edge.node.customProvider?.id === providerId && edge.node.enabledForOrganization)).toBe(true);
    const [first, second] = catalog.edges.map((edge) => edge.node.id) as [string, string];

    const platform = { origin: 'PLATFORM' as const, enabledForOrganization: false };
    const [offered] = ok(await run(CatalogEntriesDocument, { filter: platform, first: 1 })).catalogEntries.edges.map((edge) => edge.node);
    expect(offered).toMatchObject({ origin: 'PLATFORM', enabledForOrganization: false, customProvider: null });
    const organizationGrant = ok(await run(EnableModelDocument, { catalogEntryId: offered!.id })).enableModel.modelAccess;
    expect(organizationGrant).toMatchObject({ level: 'ORGANIZATION', workspace: null, catalogEntry: { id: offered!.id } });
    const enabled = ok(await run(CatalogEntriesDocument, { filter: { ...platform, enabledForOrganization: true } })).catalogEntries;
    expect(enabled.edges.map((edge) => edge.node.id)).toEqual([offered!.id]);

    const workspaceGrant = ok(await run(EnableModelDocument, { catalogEntryId: second, workspaceId })).enableModel.modelAccess;
    expect(workspaceGrant).toMatchObject({ level: 'WORKSPACE', workspace: { id: workspaceId } });
    const grants = ok(await run(WorkspaceGrantsDocument, { workspaceId, first: 10 })).modelAccessGrants;
    expect(grants.edges.map((edge) => [edge.node.id, edge.node.level, edge.node.catalogEntry.modelName])).toEqual([[workspaceGrant.id, 'WORKSPACE', 'settings-b']]);

    expect(ok(await run(DefaultModelDocument, {})).defaultModelSelection).toBeNull();
    expect(ok(await run(SetDefaultModelDocument, { catalogEntryId: first })).setDefaultModel.defaultModelSelection.modelName).toBe('settings-a');
    expect(ok(await run(DefaultModelDocument, {})).defaultModelSelection).toMatchObject({
      modelName: 'settings-a',
      source: 'CATALOG_ID',
      catalogEntry: { id: first },
    });

    // An alias of the two discovered models: the workspace may use only the second.
    const alias = ok(await run(SetModelAliasDocument, { name: 'fast', targetIds: [first, second], description: 'chat' })).setModelAlias.modelAlias;
    expect(alias).toMatchObject({ name: 'fast', level: 'ORGANIZATION', targets: [{ id: first }, { id: second }] });
    const aliases = ok(await run(ModelAliasesDocument, { workspaceId, first: 10 })).modelAliases;
    expect(aliases.edges.map((edge) => [edge.node.name, edge.node.description, edge.node.targets.map((target) => target.modelName)])).toEqual([
      ['fast', 'chat', ['settings-a', 'settings-b']],
    ]);
    const route = ok(await run(ResolveModelAliasDocument, { name: 'fast', workspaceId })).resolveModelAlias;
    expect(route.configs.map((config) => config.modelName)).toEqual(['settings-b']);
    expect(route.skipped.map((entry) => entry.modelName)).toEqual(['settings-a']);
    expect(ok(await run(DeleteModelAliasDocument, { name: 'fast' })).deleteModelAlias.deletedId).toBe(alias.id);

    for (const subscription of subscriptions) {
      const events = await subscription.waitFor(3);
      expect(events.map((event) => `${event.subjectType} ${event.action}`)).toEqual(['MODEL_ACCESS CREATED', 'MODEL_ACCESS CREATED', 'DEFAULT_MODEL UPDATED']);
      subscription.close();
    }

    // Every document of the manifest was run, and each one's text is refused to the same user.
    const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as Record<string, string>;
    expect([...used].sort()).toEqual(Object.keys(manifest).sort());
    for (const text of Object.values(manifest)) {
      expect(codes(await send(t.app, { query: text }, { token: user }))).toEqual(['PERSISTED_QUERY_ONLY']);
    }
  });
});
