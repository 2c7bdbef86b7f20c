import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { fakeProvider, json } from '../providers/fake-provider.ts';
import { fixtures, catalogGid, workspaceGid } from '../access/fixtures.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { PLATFORM_MODELS_FILE, seedPlatformCatalog } from '../../src/modules/catalog/platform.ts';
import { decodeCursor, encodeCursor } from '../../src/modules/changes/position.ts';
import { feedHead, kinds, readFeed } from './feed-client.ts';

let t: TestApp;
let provider: Awaited<ReturnType<typeof fakeProvider>>;

beforeAll(async () => {
  t = await startTestApp({ DISCOVERY_REFRESH_TIMEOUT_MS: '1500' });
  provider = await fakeProvider();
});
afterAll(async () => {
  await provider.close();
  await t.close();
});

const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id databaseId } } }';
const DELETE_WORKSPACE = 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }';
const CREATE_ENTRY = `mutation($name: String!) { createCatalogEntry(input: { modelName: $name, config: { vertexAi: { vertexModel: "gemini" } } }) {
  catalogEntry { id databaseId } modelAccess { id } } }`;
const UPDATE_ENTRY = 'mutation($id: ID!, $displayName: String) { updateCatalogEntry(input: { id: $id, displayName: $displayName }) { catalogEntry { id } } }';
const DELETE_ENTRY = 'mutation($id: ID!) { deleteCatalogEntry(input: { id: $id }) { deletedId } }';
const ENABLE = 'mutation($entry: ID!, $ws: ID) { enableModel(input: { catalogEntryId: $entry, workspaceId: $ws }) { modelAccess { id } } }';
const SET_DEFAULT = 'mutation($entry: ID!) { setDefaultModel(input: { catalogEntryId: $entry }) { defaultModelSelection { catalogId } } }';
const CREATE_PROVIDER = 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }';
const UPDATE_PROVIDER = 'mutation($input: UpdateCustomProviderInput!) { updateCustomProvider(input: $input) { customProvider { id } } }';
const REFRESH = 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount removedCount } }';
const DELETE_PROVIDER = 'mutation($id: ID!) { deleteCustomProvider(input: { id: $id }) { deletedModelCount } }';
const UPSERT_PLATFORM = 'mutation($entries: [PlatformCatalogEntryInput!]!) { upsertPlatformCatalog(input: { entries: $entries }) { insertedCount updatedCount } }';

/** Runs `fn`, then returns the events of `token`'s feed that it made. */
async function eventsOf(token: string, fn: () => Promise<unknown>) {
  const head = await feedHead(t, token);
  await fn();
  return readFeed(t, token, head);
}

describe('events written with every change', () => {
  it('workspaces: created, deleted with the grants and default that went with them', async () => {
    const org = await t.organization();
    const entry = await fixtures(t).platformEntry('ws-model');
    let workspace!: { id: string; databaseId: string };
    const created = await eventsOf(org.token, async () => {
      workspace = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'Team' }, { token: org.token })).createWorkspace.workspace;
    });
    expect(kinds(created)).toEqual(['WORKSPACE CREATED']);
    expect(created[0]).toMatchObject({ subjectId: workspace.id, workspaceId: workspace.id, actorSubject: 'tester', subject: { id: workspace.id } });

    ok(await t.request(ENABLE, { entry: catalogGid(entry.id), ws: workspace.id }, { token: org.token }));
    const deleted = await eventsOf(org.token, async () => {
      ok(await t.request(DELETE_WORKSPACE, { id: workspace.id }, { token: org.token }));
    });
    expect(kinds(deleted).sort()).toEqual(['MODEL_ACCESS DELETED', 'WORKSPACE DELETED']);
    expect(deleted.every((event) => event.workspaceId === workspace.id && event.subject === null)).toBe(true);
    expect(deleted.find((event) => event.subjectType === 'MODEL_ACCESS')!.catalogEntryId).toBe(catalogGid(entry.id));
  });

  it('catalog entries: created with their grant, updated, deleted with their grants; no-op updates make none', async () => {
    const org = await t.organization();
    let entry!: { id: string; databaseId: string };
    const created = await eventsOf(org.token, async () => {
      entry = ok(await t.request<any>(CREATE_ENTRY, { name: 'gemini-pro' }, { token: org.token })).createCatalogEntry.catalogEntry;
    });
    expect(kinds(created)).toEqual(['CATALOG_ENTRY CREATED', 'MODEL_ACCESS CREATED']);
    expect(created.every((event) => event.catalogEntryId === entry.id && event.workspaceId === null)).toBe(true);

    expect(kinds(await eventsOf(org.token, () => t.request(UPDATE_ENTRY, { id: entry.id, displayName: 'Gemini' }, { token: org.token })))).toEqual([
      'CATALOG_ENTRY UPDATED',
    ]);
    expect(await eventsOf(org.token, () => t.request(UPDATE_ENTRY, { id: entry.id, displayName: 'Gemini' }, { token: org.token }))).toEqual([]);

    const workspace = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'W' }, { token: org.token })).createWorkspace.workspace;
    ok(await t.request(ENABLE, { entry: entry.id, ws: workspace.id }, { token: org.token }));
    const deleted = await eventsOf(org.token, () => t.request(DELETE_ENTRY, { id: entry.id }, { token: org.token }));
    expect(kinds(deleted).sort()).toEqual(['CATALOG_ENTRY DELETED', 'MODEL_ACCESS DELETED', 'MODEL_ACCESS DELETED']);
    expect(deleted.map((event) => event.workspaceId).sort()).toEqual([null, null, workspace.id].sort());
  });

  it('custom providers: created, updated (discovery status too), deleted with their entries and grants', async () => {
    const org = await t.organization();
    provider.answer((_req, res) => json(res, { data: [{ id: 'a' }, { id: 'b' }] }));
    let id!: string;
    const created = await eventsOf(org.token, async () => {
      id = ok(await t.request<any>(CREATE_PROVIDER, { input: { displayName: 'GW', baseUrl: provider.url, apiKey: 'sk-1' } }, { token: org.token }))
        .createCustomProvider.customProvider.id;
    });
    expect(kinds(created)).toEqual(['CUSTOM_PROVIDER CREATED']);
    expect(created[0]!.subjectId).toBe(id);

    const same = { id, displayName: 'GW', baseUrl: provider.url, apiKey: 'sk-1' };
    expect(await eventsOf(org.token, () => t.request(UPDATE_PROVIDER, { input: same }, { token: org.token }))).toEqual([]);
    expect(kinds(await eventsOf(org.token, () => t.request(UPDATE_PROVIDER, { input: { id, apiKey: 'sk-2' } }, { token: org.token })))).toEqual([
      'CUSTOM_PROVIDER UPDATED',
    ]);

    const refreshed = await eventsOf(org.token, async () => ok(await t.request(REFRESH, { id }, { token: org.token })));
    expect(kinds(refreshed)).toEqual([
      'CUSTOM_PROVIDER UPDATED', // RUNNING
      'CATALOG_ENTRY CREATED',
      'CATALOG_ENTRY CREATED',
      'MODEL_ACCESS CREATED',
      'MODEL_ACCESS CREATED',
      'CUSTOM_PROVIDER UPDATED', // SUCCEEDED
    ]);
    // The same answer again changes no entry.
    expect(kinds(await eventsOf(org.token, async () => ok(await t.request(REFRESH, { id }, { token: org.token }))))).toEqual([
      'CUSTOM_PROVIDER UPDATED',
      'CUSTOM_PROVIDER UPDATED',
    ]);
    provider.answer((_req, res) => json(res, { data: [{ id: 'a', owned_by: 'x' }] }));
    const pruned = await eventsOf(org.token, async () => ok(await t.request(REFRESH, { id }, { token: org.token })));
    expect(kinds(pruned).sort()).toEqual(
      ['CATALOG_ENTRY DELETED', 'CATALOG_ENTRY UPDATED', 'CUSTOM_PROVIDER UPDATED', 'CUSTOM_PROVIDER UPDATED', 'MODEL_ACCESS DELETED'].sort(),
    );

    provider.answer((_req, res) => json(res, { error: 'down' }, 503));
    const failed = await eventsOf(org.token, () => t.request(REFRESH, { id }, { token: org.token }));
    expect(kinds(failed)).toEqual(['CUSTOM_PROVIDER UPDATED', 'CUSTOM_PROVIDER UPDATED']);

    const deleted = await eventsOf(org.token, () => t.request(DELETE_PROVIDER, { id }, { token: org.token }));
    expect(kinds(deleted).sort()).toEqual(['CATALOG_ENTRY DELETED', 'CUSTOM_PROVIDER DELETED', 'MODEL_ACCESS DELETED']);
  });

  it('the default model: one event per change, naming the entry; setting it again makes none', async () => {
    const org = await t.organization();
    const entry = ok(await t.request<any>(CREATE_ENTRY, { name: 'default-me' }, { token: org.token })).createCatalogEntry.catalogEntry;
    const set = await eventsOf(org.token, () => t.request(SET_DEFAULT, { entry: entry.id }, { token: org.token }));
    expect(set).toMatchObject([{ subjectType: 'DEFAULT_MODEL', action: 'UPDATED', subjectId: null, subject: null, catalogEntryId: entry.id, workspaceId: null }]);
    expect(await eventsOf(org.token, () => t.request(SET_DEFAULT, { entry: entry.id }, { token: org.token }))).toEqual([]);
  });

  it('refusals and rollbacks make none', async () => {
    const org = await t.organization();
    const entry = ok(await t.request<any>(CREATE_ENTRY, { name: 'dup' }, { token: org.token })).createCatalogEntry.catalogEntry;
    const refused = await eventsOf(org.token, async () => {
      expect(codes(await t.request(CREATE_ENTRY, { name: 'dup' }, { token: org.token }))).toEqual(['CONFLICT']);
      expect(codes(await t.request(ENABLE, { entry: entry.id }, { token: org.token }))).toEqual(['CONFLICT']);
      expect(codes(await t.request(DELETE_WORKSPACE, { id: workspaceGid('00000000-0000-4000-8000-000000000000') }, { token: org.token }))).toEqual([
        'NOT_FOUND',
      ]);
      const readOnly = await t.token({ organizationId: org.id, scopes: ['agent:read'] });
      expect(codes(await t.request(CREATE_WORKSPACE, { name: 'no' }, { token: readOnly }))).toEqual(['FORBIDDEN']);
      await expect(
        scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, async (tx) => {
          await tx.workspace.create({ data: { organizationId: org.id, name: 'rolled back' } });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
    });
    expect(refused).toEqual([]);
  });

  it('platform catalog changes reach every organization; identical upserts and seeding make none', async () => {
    const [a, b] = [await t.organization('A'), await t.organization('B')];
    const admin = await t.token({ subject: 'platform-admin', scopes: ['platform:admin'] });
    const provider = `platform-${Date.now()}`;
    const entries = [{ modelProvider: provider, modelName: 'm1', metadata: { max_input_tokens: 10 } }];
    const headA = await feedHead(t, a.token);
    const headB = await feedHead(t, b.token);
    ok(await t.request(UPSERT_PLATFORM, { entries }, { token: admin }));
    for (const [token, head] of [[a.token, headA], [b.token, headB]] as const) {
      const seen = await readFeed(t, token, head);
      expect(seen).toMatchObject([{ subjectType: 'CATALOG_ENTRY', action: 'CREATED', actorSubject: 'platform-admin', workspaceId: null }]);
      expect(seen[0]!.subject).not.toBeNull();
    }
    expect(await eventsOf(a.token, () => t.request(UPSERT_PLATFORM, { entries }, { token: admin }))).toEqual([]);
    const changed = await eventsOf(a.token, () =>
      t.request(UPSERT_PLATFORM, { entries: [{ ...entries[0], metadata: { max_input_tokens: 20 } }] }, { token: admin }),
    );
    expect(kinds(changed)).toEqual(['CATALOG_ENTRY UPDATED']);
    expect(await eventsOf(a.token, () => seedPlatformCatalog(t.services.database.prisma, PLATFORM_MODELS_FILE, t.services.logger))).toEqual([]);
  });
});

describe('reading the feed', () => {
  it('keeps tenants apart; a workspace-bound token sees its workspace and what belongs to none', async () => {
    const [a, b] = [await t.organization('A'), await t.organization('B')];
    const head = await feedHead(t, a.token);
    const mine = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'mine' }, { token: a.token })).createWorkspace.workspace;
    const other = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'other' }, { token: a.token })).createWorkspace.workspace;
    const entry = ok(await t.request<any>(CREATE_ENTRY, { name: 'shared' }, { token: a.token })).createCatalogEntry.catalogEntry;
    ok(await t.request(ENABLE, { entry: entry.id, ws: other.id }, { token: a.token }));
    ok(await t.request(CREATE_WORKSPACE, { name: 'b' }, { token: b.token }));

    const all = await readFeed(t, a.token, head);
    expect(kinds(all)).toEqual(['WORKSPACE CREATED', 'WORKSPACE CREATED', 'CATALOG_ENTRY CREATED', 'MODEL_ACCESS CREATED', 'MODEL_ACCESS CREATED']);
    const bound = await t.token({ organizationId: a.id, workspaceId: mine.databaseId, scopes: ['agent:read'] });
    const seen = await readFeed(t, bound, head);
    expect(seen.map((event) => event.workspaceId)).toEqual([mine.id, null, null]);
    expect(codes(await t.request('query($f: ChangeEventFilter) { changeEvents(filter: $f) { edges { cursor } } }', { f: { workspaceId: other.id } }, { token: bound }))).toEqual([
      'FORBIDDEN',
    ]);
    expect(kinds(await readFeed(t, a.token, head, { workspaceId: other.id }))).toEqual(['WORKSPACE CREATED', 'MODEL_ACCESS CREATED']);
    expect(kinds(await readFeed(t, a.token, head, { subjectTypes: ['MODEL_ACCESS', 'CATALOG_ENTRY'] }))).toEqual([
      'CATALOG_ENTRY CREATED',
      'MODEL_ACCESS CREATED',
      'MODEL_ACCESS CREATED',
    ]);
    // Row-level security holds on its own: a tenant transaction that forgets the filter sees only its own rows.
    const rows = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ organization_id: string | null }[]>`SELECT DISTINCT organization_id::text FROM change_event`,
    );
    expect(rows.map((row) => row.organization_id).filter((id) => id !== null)).toEqual([b.id]);
    await expect(
      scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
        tx.$executeRaw`INSERT INTO change_event (organization_id, subject_type, action) VALUES (${a.id}::uuid, 'WORKSPACE', 'CREATED')`,
      ),
    ).rejects.toThrow(/row-level security/);
    expect(codes(await t.request('{ changeEvents { edges { cursor } } }', {}, { token: await t.token({ organizationId: a.id, scopes: ['agent:update'] }) }))).toEqual([
      'FORBIDDEN',
    ]);
  });

  it('pages forward from a cursor, oldest first; cursors resume exactly after their event', async () => {
    const org = await t.organization();
    const head = await feedHead(t, org.token);
    for (let i = 0; i < 5; i++) ok(await t.request(CREATE_WORKSPACE, { name: `w${i}` }, { token: org.token }));
    const page = ok(await t.request<any>('query($after: String) { changeEvents(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { subjectId } } } }', { after: head }, { token: org.token })).changeEvents;
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true, endCursor: page.edges[1].cursor });
    const rest = await readFeed(t, org.token, page.pageInfo.endCursor);
    expect(rest).toHaveLength(3);
    const all = await readFeed(t, org.token, head);
    expect(all.map((event) => event.subjectId)).toEqual([...page.edges.map((edge: any) => edge.node.subjectId), ...rest.map((event) => event.subjectId)]);
    expect(await readFeed(t, org.token, all.at(-1)!.cursor)).toEqual([]);
  });

  it('refuses malformed, foreign and future cursors with BAD_USER_INPUT and expired ones with CURSOR_EXPIRED', async () => {
    const org = await t.organization();
    const query = 'query($after: String, $first: Int) { changeEvents(first: $first, after: $after) { edges { cursor } } }';
    const head = await feedHead(t, org.token);
    const position = decodeCursor(head, 'after');
    for (const after of ['nope', Buffer.from('["catalog:created:desc","x"]').toString('base64url'), encodeCursor({ ...position, time: Date.now() + 3_600_000 })]) {
      const answer = await t.request<any>(query, { after }, { token: org.token });
      expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.errors![0]!.extensions!.argument).toBe('after');
    }
    const expired = await t.request(query, { after: encodeCursor({ ...position, time: Date.now() - 169 * 3_600_000 }) }, { token: org.token });
    expect(codes(expired)).toEqual(['CURSOR_EXPIRED']);
    for (const first of [0, 101]) expect(codes(await t.request(query, { first }, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.request('{ changeEvents(filter: { subjectTypes: [] }) { edges { cursor } } }', {}, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
  });

  it('resolves subjects as they are now, and null once gone', async () => {
    const org = await t.organization();
    const head = await feedHead(t, org.token);
    const kept = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'kept' }, { token: org.token })).createWorkspace.workspace;
    const gone = ok(await t.request<any>(CREATE_WORKSPACE, { name: 'gone' }, { token: org.token })).createWorkspace.workspace;
    ok(await t.request(DELETE_WORKSPACE, { id: gone.id }, { token: org.token }));
    const page = ok(await t.request<any>('query($after: String) { changeEvents(after: $after) { edges { node { subjectId subject { id ... on Workspace { name } } } } } }', { after: head }, { token: org.token })).changeEvents;
    expect(page.edges.map((edge: any) => edge.node)).toEqual([
      { subjectId: kept.id, subject: { id: kept.id, name: 'kept' } },
      { subjectId: gone.id, subject: null },
      { subjectId: gone.id, subject: null },
    ]);
    expect(page.edges[0].node.subjectId).toBe(encodeGlobalId('Workspace', kept.databaseId));
  });

  it('prunes events past the retention', async () => {
    const org = await t.organization();
    await t.services.database.withSession((session) =>
      session.query(
        `INSERT INTO change_event (organization_id, subject_type, action, occurred_at) VALUES ($1, 'WORKSPACE', 'CREATED', now() - interval '200 hours'), ($1, 'WORKSPACE', 'DELETED', now() - interval '100 hours')`,
        [org.id],
      ),
    );
    const count = () =>
      t.services.database.withSession((session) => session.query<{ n: number }>('SELECT count(*)::int AS n FROM change_event WHERE organization_id = $1', [org.id]));
    expect((await count())[0]!.n).toBe(2);
    expect(await t.services.changeFeed.prune()).toBeGreaterThanOrEqual(1);
    expect((await count())[0]!.n).toBe(1);
    // Without a cursor the feed starts at the oldest retained event.
    expect(kinds(await readFeed(t, org.token, null, { subjectTypes: ['WORKSPACE'] }))).toEqual(['WORKSPACE DELETED']);
  });
});
