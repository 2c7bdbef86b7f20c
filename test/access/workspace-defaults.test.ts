import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { catalogGid, eventsOf, fixtures, workspaceGid } from './fixtures.ts';
import { kinds } from '../changes/feed-client.ts';
import { scopedTransaction } from '../../src/db/scope.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let statements = 0;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_POINTS: '0' }, { onQuery: () => statements++ });
  f = fixtures(t);
});
afterAll(() => t.close());

const SELECTION = 'catalogId modelName source level';
const SET = `mutation($entry: ID!, $ws: ID) { setDefaultModel(input: { catalogEntryId: $entry, workspaceId: $ws }) { defaultModelSelection { ${SELECTION} } } }`;
const CLEAR = 'mutation($ws: ID) { clearDefaultModel(input: { workspaceId: $ws }) { cleared } }';
const QUERY = `query($ws: ID) { defaultModelSelection(workspaceId: $ws) { ${SELECTION} } }`;
const WORKSPACES = `query($first: Int!) { workspaces(first: $first) { edges { node { databaseId defaultModelSelection { ${SELECTION} catalogEntry { databaseId } } } } } }`;
const DELETE_WORKSPACE = 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }';

const setDefault = (token: string, entry: string, workspace?: string) =>
  t.request<any>(SET, { entry: catalogGid(entry), ws: workspace ? workspaceGid(workspace) : null }, { token });
const selection = async (token: string, workspace?: string | null) =>
  ok(await t.request<any>(QUERY, { ws: workspace ? workspaceGid(workspace) : null }, { token })).defaultModelSelection;


/** An organization with an organization default `orgDefault` (granted at organization level) and another granted entry. */
async function organizationWithDefault(name: string) {
  const org = await t.organization(name);
  const orgDefault = await f.orgEntry(org.id, `${name}-org-default`);
  const other = await f.orgEntry(org.id, `${name}-other`);
  await f.grant(org.id, [orgDefault.id, other.id]);
  ok(await setDefault(org.token, orgDefault.id));
  return { org, orgDefault, other };
}

describe('resolution (every branch)', () => {
  it('a workspace without its own default and without an override gets the organization default (ORGANIZATION)', async () => {
    const { org, orgDefault } = await organizationWithDefault('Inherit');
    const workspace = await f.workspace(org.id);
    expect(await selection(org.token, workspace.id)).toEqual({ catalogId: orgDefault.id, modelName: orgDefault.modelName, source: 'CATALOG_ID', level: 'ORGANIZATION' });
    expect(await selection(org.token)).toMatchObject({ catalogId: orgDefault.id, level: 'ORGANIZATION' });
  });

  it('an override that includes the organization default keeps it; one that lacks it gives null', async () => {
    const { org, orgDefault, other } = await organizationWithDefault('Override');
    const including = await f.workspace(org.id);
    const lacking = await f.workspace(org.id);
    await f.grant(org.id, [orgDefault.id], including.id);
    await f.grant(org.id, [other.id], lacking.id);
    expect(await selection(org.token, including.id)).toMatchObject({ catalogId: orgDefault.id, level: 'ORGANIZATION' });
    expect(await selection(org.token, lacking.id)).toBeNull();
  });

  it('an organization default that is no longer enabled gives null, also where the workspace grants it itself', async () => {
    const { org, orgDefault } = await organizationWithDefault('StaleOrg');
    const workspace = await f.workspace(org.id);
    await f.grant(org.id, [orgDefault.id], workspace.id);
    await f.tenant(org.id, (tx) => tx.agentModelAccess.deleteMany({ where: { organizationId: org.id, workspaceId: null, catalogId: orgDefault.id } }));
    expect(await selection(org.token)).toBeNull();
    expect(await selection(org.token, workspace.id)).toBeNull();
  });

  it('a legacy organization default passes on with its source', async () => {
    const org = await t.organization('Legacy');
    const entry = await f.orgEntry(org.id, 'legacy-ws');
    await f.grant(org.id, [entry.id]);
    await f.setting(org.id, 'agent_default_model', 'legacy-ws');
    const workspace = await f.workspace(org.id);
    expect(await selection(org.token, workspace.id)).toMatchObject({ catalogId: entry.id, source: 'LEGACY_MODEL_NAME', level: 'ORGANIZATION' });
  });

  it("the workspace's own default wins while effective (WORKSPACE), and becomes null — never another model — once it is not", async () => {
    const { org, orgDefault, other } = await organizationWithDefault('Own');
    const workspace = await f.workspace(org.id);
    const set = ok(await setDefault(org.token, other.id, workspace.id)).setDefaultModel.defaultModelSelection;
    expect(set).toEqual({ catalogId: other.id, modelName: other.modelName, source: 'CATALOG_ID', level: 'WORKSPACE' });
    expect(await selection(org.token, workspace.id)).toEqual(set);
    // The organization's default is untouched.
    expect(await selection(org.token)).toMatchObject({ catalogId: orgDefault.id, level: 'ORGANIZATION' });

    // An override without it: the own default stopped being effective, the organization's would be: still null.
    await f.grant(org.id, [orgDefault.id], workspace.id);
    expect(await selection(org.token, workspace.id)).toBeNull();
    // Granted in the workspace again: it comes back.
    await f.grant(org.id, [other.id], workspace.id);
    expect(await selection(org.token, workspace.id)).toEqual(set);
  });

  it('an own default whose entry was deleted resolves to null, and the deletion is a DEFAULT_MODEL change', async () => {
    const { org, orgDefault } = await organizationWithDefault('DeletedEntry');
    const workspace = await f.workspace(org.id);
    const doomed = await f.orgEntry(org.id, 'doomed-ws-default');
    await f.grant(org.id, [doomed.id]);
    ok(await setDefault(org.token, doomed.id, workspace.id));
    const events = await eventsOf(t, org.id, org.token, () => f.deleteEntry(org.id, doomed.id));
    expect(kinds(events).sort()).toEqual(['CATALOG_ENTRY DELETED', 'DEFAULT_MODEL UPDATED', 'MODEL_ACCESS DELETED']);
    expect(events.find((event) => event.subjectType === 'DEFAULT_MODEL')).toMatchObject({ workspaceId: workspaceGid(workspace.id), catalogEntryId: null });
    expect(await selection(org.token, workspace.id)).toBeNull();
    expect(await selection(org.token)).toMatchObject({ catalogId: orgDefault.id });
    // Clearing it hands the workspace the organization's default again.
    expect(ok(await t.request<any>(CLEAR, { ws: workspaceGid(workspace.id) }, { token: org.token })).clearDefaultModel.cleared).toBe(true);
    expect(await selection(org.token, workspace.id)).toMatchObject({ catalogId: orgDefault.id, level: 'ORGANIZATION' });
  });

  it('without any default: null', async () => {
    const org = await t.organization('Nothing');
    const workspace = await f.workspace(org.id);
    expect(await selection(org.token)).toBeNull();
    expect(await selection(org.token, workspace.id)).toBeNull();
  });
});

describe('setDefaultModel with a workspace', () => {
  it("needs one of the workspace's effective models: a workspace-only grant will do, an organization grant under an override will not", async () => {
    const { org, other } = await organizationWithDefault('SetRules');
    const workspace = await f.workspace(org.id);
    const workspaceOnly = await f.orgEntry(org.id, 'workspace-only');
    const ungranted = await f.orgEntry(org.id, 'ungranted');
    expect(codes(await setDefault(org.token, workspaceOnly.id, workspace.id))).toEqual(['NOT_FOUND']);
    await f.grant(org.id, [workspaceOnly.id], workspace.id);
    expect(ok(await setDefault(org.token, workspaceOnly.id, workspace.id)).setDefaultModel.defaultModelSelection).toMatchObject({ level: 'WORKSPACE' });
    for (const entry of [other.id, ungranted.id, '00000000-0000-4000-8000-0000000000aa']) {
      expect(codes(await setDefault(org.token, entry, workspace.id))).toEqual(['NOT_FOUND']);
    }
    // Without a workspace the organization-level rule stays: a workspace grant is not enough.
    expect(codes(await setDefault(org.token, workspaceOnly.id))).toEqual(['NOT_FOUND']);
    const audit = await f.auditEvents(org.id, 'agent_default_model');
    expect(audit.map((event) => [event.status, event.errorCode, event.workspaceId])).toEqual([
      ['SUCCESS', null, null],
      ['FAILURE', 'NOT_FOUND', workspace.id],
      ['SUCCESS', null, workspace.id],
      ['FAILURE', 'NOT_FOUND', workspace.id],
      ['FAILURE', 'NOT_FOUND', workspace.id],
      ['FAILURE', 'NOT_FOUND', workspace.id],
      ['FAILURE', 'NOT_FOUND', null],
    ]);
  });

  it('refuses a workspace of another organization, and ids of the wrong type', async () => {
    const { org, other } = await organizationWithDefault('Foreign');
    const stranger = await t.organization('Stranger');
    const theirs = await f.workspace(stranger.id);
    expect(codes(await setDefault(org.token, other.id, theirs.id))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request<any>(CLEAR, { ws: workspaceGid(theirs.id) }, { token: org.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request<any>(QUERY, { ws: workspaceGid(theirs.id) }, { token: org.token }))).toEqual(['NOT_FOUND']);
    const wrongType = await t.request<any>(SET, { entry: catalogGid(other.id), ws: catalogGid(other.id) }, { token: org.token });
    expect(wrongType.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.workspaceId' });
    expect(await f.tenant(stranger.id, (tx) => tx.workspaceDefaultModel.count())).toBe(0);
  });

  it('records one DEFAULT_MODEL change per set, change or clear of a workspace, none when nothing changes', async () => {
    const { org, orgDefault, other } = await organizationWithDefault('Events');
    const workspace = await f.workspace(org.id);
    const ws = workspaceGid(workspace.id);
    const expected = (catalogEntryId: string | null) => [{ subjectType: 'DEFAULT_MODEL', action: 'UPDATED', subjectId: null, workspaceId: ws, catalogEntryId }];

    expect(await eventsOf(t, org.id, org.token, () => setDefault(org.token, other.id, workspace.id))).toMatchObject(expected(catalogGid(other.id)));
    expect(await eventsOf(t, org.id, org.token, () => setDefault(org.token, other.id, workspace.id))).toEqual([]);
    expect(await eventsOf(t, org.id, org.token, () => setDefault(org.token, orgDefault.id, workspace.id))).toMatchObject(expected(catalogGid(orgDefault.id)));
    const cleared = await eventsOf(t, org.id, org.token, async () => {
      expect(ok(await t.request<any>(CLEAR, { ws }, { token: org.token })).clearDefaultModel.cleared).toBe(true);
    });
    expect(cleared).toMatchObject(expected(null));
    const again = await eventsOf(t, org.id, org.token, async () => {
      expect(ok(await t.request<any>(CLEAR, { ws }, { token: org.token })).clearDefaultModel.cleared).toBe(false);
    });
    expect(again).toEqual([]);
    expect(await f.tenant(org.id, (tx) => tx.workspaceDefaultModel.count())).toBe(0);
  });
});

describe('clearDefaultModel for the organization', () => {
  it('removes both settings in one change, and is idempotent', async () => {
    const { org } = await organizationWithDefault('ClearOrg');
    const workspace = await f.workspace(org.id);
    const events = await eventsOf(t, org.id, org.token, async () => {
      expect(ok(await t.request<any>(CLEAR, {}, { token: org.token })).clearDefaultModel.cleared).toBe(true);
    });
    expect(events).toMatchObject([{ subjectType: 'DEFAULT_MODEL', workspaceId: null, catalogEntryId: null }]);
    expect(await f.settingsOf(org.id)).toEqual([]);
    expect(await selection(org.token)).toBeNull();
    expect(await selection(org.token, workspace.id)).toBeNull();
    expect(ok(await t.request<any>(CLEAR, {}, { token: org.token })).clearDefaultModel.cleared).toBe(false);
    const audit = await f.auditEvents(org.id, 'agent_default_model');
    expect(audit.map((event) => [event.action, event.status])).toEqual([['update', 'SUCCESS'], ['delete', 'SUCCESS'], ['delete', 'SUCCESS']]);
  });
});

describe('workspace deletion', () => {
  it('removes its default, with a DEFAULT_MODEL change in the cascade', async () => {
    const { org, other } = await organizationWithDefault('DeleteWorkspace');
    const workspace = await f.workspace(org.id);
    await f.grant(org.id, [other.id], workspace.id);
    ok(await setDefault(org.token, other.id, workspace.id));
    const events = await eventsOf(t, org.id, org.token, () => t.request<any>(DELETE_WORKSPACE, { id: workspaceGid(workspace.id) }, { token: org.token }));
    expect(kinds(events).sort()).toEqual(['DEFAULT_MODEL UPDATED', 'MODEL_ACCESS DELETED', 'WORKSPACE DELETED']);
    expect(events.every((event) => event.workspaceId === workspaceGid(workspace.id))).toBe(true);
    expect(events.find((event) => event.subjectType === 'DEFAULT_MODEL')!.catalogEntryId).toBeNull();
    expect(await f.tenant(org.id, (tx) => tx.workspaceDefaultModel.count())).toBe(0);
  });
});

describe('workspace-bound tokens', () => {
  it("read their own workspace's default without an argument, no other workspace's, and set none", async () => {
    const { org, orgDefault, other } = await organizationWithDefault('Bound');
    const own = await f.workspace(org.id);
    const sibling = await f.workspace(org.id);
    ok(await setDefault(org.token, other.id, own.id));
    const bound = await t.token({ organizationId: org.id, workspaceId: own.id, scopes: ['agent:read', 'agent:update'] });
    expect(await selection(bound)).toMatchObject({ catalogId: other.id, level: 'WORKSPACE' });
    expect(await selection(bound, own.id)).toMatchObject({ catalogId: other.id, level: 'WORKSPACE' });
    expect(codes(await t.request<any>(QUERY, { ws: workspaceGid(sibling.id) }, { token: bound }))).toEqual(['FORBIDDEN']);
    expect(codes(await setDefault(bound, orgDefault.id, own.id))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request<any>(CLEAR, { ws: workspaceGid(own.id) }, { token: bound }))).toEqual(['FORBIDDEN']);
    // RLS alone keeps the sibling's default out of its transactions.
    ok(await setDefault(org.token, orgDefault.id, sibling.id));
    const visible = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id, workspaceId: own.id }, (tx) =>
      tx.$queryRaw<{ workspace_id: string }[]>`SELECT workspace_id::text FROM workspace_default_model`,
    );
    expect(visible).toEqual([{ workspace_id: own.id }]);
  });
});

describe('Workspace.defaultModelSelection', () => {
  it('resolves a page of workspaces in the statements of one', async () => {
    const { org, orgDefault, other } = await organizationWithDefault('Page');
    const workspaces = [];
    for (let i = 0; i < 12; i++) workspaces.push(await f.workspace(org.id, `page-${String(i).padStart(2, '0')}`));
    // Every branch on one page: own (the newest, first on every page), own but stale,
    // inherited, inherited but not usable.
    const [owning, stale, unusable] = [workspaces[11]!, workspaces[1]!, workspaces[2]!];
    await f.grant(org.id, [other.id], owning.id);
    ok(await setDefault(org.token, other.id, owning.id));
    ok(await setDefault(org.token, other.id, stale.id));
    await f.grant(org.id, [orgDefault.id], stale.id);
    await f.grant(org.id, [other.id], unusable.id);
    ok(await t.request('{ viewer { subject } }', {}, { token: org.token }));

    const page = async (first: number) => {
      const before = statements;
      const edges = ok(await t.request<any>(WORKSPACES, { first }, { token: org.token })).workspaces.edges;
      return { statements: statements - before, byName: new Map(edges.map((edge: any) => [edge.node.databaseId, edge.node.defaultModelSelection])) };
    };
    const one = await page(1);
    const all = await page(12);
    expect(all.byName.size).toBe(12);
    expect(all.statements).toBe(one.statements);
    expect(one.byName.get(owning.id)).toMatchObject({ catalogId: other.id, level: 'WORKSPACE', catalogEntry: { databaseId: other.id } });
    expect(all.byName.get(owning.id)).toEqual(one.byName.get(owning.id));
    expect(all.byName.get(stale.id)).toBeNull();
    expect(all.byName.get(unusable.id)).toBeNull();
    for (const workspace of [workspaces[0]!, ...workspaces.slice(3, 11)]) {
      expect(all.byName.get(workspace.id)).toMatchObject({ catalogId: orgDefault.id, level: 'ORGANIZATION' });
    }
  });

  it('is answered again after a change, though repeated answers come from the response cache', async () => {
    const { org, other } = await organizationWithDefault('Cached');
    const workspace = await f.workspace(org.id);
    const read = async () => ok(await t.request<any>(WORKSPACES, { first: 5 }, { token: org.token })).workspaces.edges[0].node.defaultModelSelection;
    expect(await read()).toMatchObject({ level: 'ORGANIZATION' });
    expect(await read()).toMatchObject({ level: 'ORGANIZATION' });
    ok(await setDefault(org.token, other.id, workspace.id));
    expect(await read()).toMatchObject({ catalogId: other.id, level: 'WORKSPACE' });
    await f.grant(org.id, [(await f.orgEntry(org.id, 'override-only')).id], workspace.id);
    expect(await read()).toBeNull();
  });
});
