import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { catalogGid, enableThroughApi, eventsOf, fixtures, unique, workspaceGid } from './fixtures.ts';
import { kinds, subscribeSse, subscribeWs, untilSubscribed } from '../changes/feed-client.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let statements = 0;

const API_KEY = 'sk-alias-secret-0123456789';
const HEADER_VALUE = 'alias-header-secret-9876';

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_POINTS: '0' }, { onQuery: () => statements++ });
  f = fixtures(t);
});
afterAll(() => t.close());

const aliasGid = (id: string) => encodeGlobalId('ModelAlias', id);

const ALIAS_FIELDS = 'id databaseId name description level workspace { databaseId } targets { databaseId } createdAt updatedAt';
const SET = `mutation Set($name: String!, $targets: [ID!]!, $ws: ID, $description: String) {
  setModelAlias(input: { name: $name, targetIds: $targets, workspaceId: $ws, description: $description }) { modelAlias { ${ALIAS_FIELDS} } } }`;
const DELETE = `mutation Delete($name: String!, $ws: ID) { deleteModelAlias(input: { name: $name, workspaceId: $ws }) { deletedId } }`;
const LIST = `query List($ws: ID, $first: Int, $after: String) { modelAliases(workspaceId: $ws, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name level description workspace { databaseId } targets { databaseId } } } } }`;
const RESOLVE = `query Resolve($alias: String!, $workspace: ID) { resolveModelAlias(name: $alias, workspaceId: $workspace) {
  alias { databaseId name level targets { databaseId } }
  configs { catalogEntry { databaseId } modelProvider modelName baseUrl passthrough apiKeyHeader apiKey customHeaders { name value } }
  skipped { databaseId } } }`;

interface Org {
  id: string;
  token: string;
}

const set = (org: Org, name: string, targets: string[], workspaceId?: string | null, description?: string | null, token = org.token) =>
  t.request<any>(SET, { name, targets: targets.map(catalogGid), ws: workspaceId ? workspaceGid(workspaceId) : null, description }, { token });
const resolve = (token: string, name: string, workspaceId?: string | null) =>
  t.request<any>(RESOLVE, { alias: name, workspace: workspaceId ? workspaceGid(workspaceId) : null }, { token });
const list = (token: string, workspaceId?: string | null, first?: number, after?: string) =>
  t.request<any>(LIST, { ws: workspaceId ? workspaceGid(workspaceId) : null, first, after }, { token });
const names = (connection: any) => connection.edges.map((edge: any) => `${edge.node.name}:${edge.node.level}`);
const ids = (rows: { databaseId: string }[]) => rows.map((row) => row.databaseId);

/** An organization with a runtime token (agent:read, agent:credentials:read) beside its all-scopes token. */
async function organization(name: string) {
  const org = await t.organization(name);
  const runtime = await t.token({ organizationId: org.id, actorType: 'service', subject: 'agent-runtime', scopes: ['agent:read', 'agent:credentials:read'] });
  return { ...org, runtime };
}

/** Catalog entries of the organization, created directly in one statement. */
async function entries(organizationId: string, count: number) {
  const prefix = unique();
  return f
    .tenant(organizationId, (tx) =>
      tx.agentCatalog.createManyAndReturn({
        data: Array.from({ length: count }, (_, i) => ({ organizationId, modelProvider: 'bedrock', modelName: `alias-${prefix}-${i}` })),
        select: { id: true },
      }),
    )
    .then((rows) => rows.map((row) => row.id));
}

describe('resolveModelAlias', () => {
  it('gives the configurations of the usable targets in the alias order, the others as skipped, and the workspace alias over the organization one', async () => {
    const org = await organization('Resolve');
    const provider = await f.customProvider(org.id, {
      baseUrl: 'https://gateway.example.test/v1',
      apiKeyHeader: 'x-api-key',
      secrets: { apiKey: API_KEY, customHeaders: [{ name: 'X-Tenant', value: HEADER_VALUE }] },
    });
    const gateway = await f.customEntry(org.id, provider.id, 'gw-fast');
    const cloud = await f.orgEntry(org.id, 'cloud-fast', 'vertex_ai');
    const platform = await f.platformEntry('platform-fast');
    const ungranted = await f.orgEntry(org.id, 'never-granted');
    const following = await f.workspace(org.id);
    const overriding = await f.workspace(org.id);
    for (const entry of [gateway, cloud, platform]) await enableThroughApi(t, org.token, entry.id);
    // The overriding workspace may use only the cloud entry and the ungranted one.
    await enableThroughApi(t, org.token, cloud.id, overriding.id);
    await enableThroughApi(t, org.token, ungranted.id, overriding.id);

    ok(await set(org, 'fast', [ungranted.id, gateway.id, platform.id, cloud.id], null, 'the fast one'));
    const forOrganization = ok(await resolve(org.runtime, 'fast')).resolveModelAlias;
    expect(forOrganization.alias).toMatchObject({ name: 'fast', level: 'ORGANIZATION', targets: [{ databaseId: ungranted.id }, { databaseId: gateway.id }, { databaseId: platform.id }, { databaseId: cloud.id }] });
    expect(forOrganization.configs).toEqual([
      {
        catalogEntry: { databaseId: gateway.id },
        modelProvider: 'custom-model-provider',
        modelName: 'gw-fast',
        baseUrl: 'https://gateway.example.test/v1',
        passthrough: false,
        apiKeyHeader: 'x-api-key',
        apiKey: API_KEY,
        customHeaders: [{ name: 'X-Tenant', value: HEADER_VALUE }],
      },
      expect.objectContaining({ catalogEntry: { databaseId: platform.id }, modelName: 'platform-fast', baseUrl: null, apiKey: null, customHeaders: [] }),
      expect.objectContaining({ catalogEntry: { databaseId: cloud.id }, modelProvider: 'vertex_ai', apiKey: null }),
    ]);
    expect(ids(forOrganization.skipped)).toEqual([ungranted.id]);

    // A workspace that follows the organization resolves the same; the overriding one its own grants only.
    expect(ids(ok(await resolve(org.runtime, 'fast', following.id)).resolveModelAlias.configs.map((c: any) => c.catalogEntry))).toEqual([gateway.id, platform.id, cloud.id]);
    const overridden = ok(await resolve(org.runtime, 'fast', overriding.id)).resolveModelAlias;
    expect(ids(overridden.configs.map((c: any) => c.catalogEntry))).toEqual([ungranted.id, cloud.id]);
    expect(ids(overridden.skipped)).toEqual([gateway.id, platform.id]);

    // The workspace's own alias of that name wins there, and only there.
    ok(await set(org, 'fast', [platform.id, gateway.id], following.id));
    const own = ok(await resolve(org.runtime, 'fast', following.id)).resolveModelAlias;
    expect(own.alias).toMatchObject({ level: 'WORKSPACE' });
    expect(ids(own.configs.map((c: any) => c.catalogEntry))).toEqual([platform.id, gateway.id]);
    expect(ok(await resolve(org.runtime, 'fast', overriding.id)).resolveModelAlias.alias.level).toBe('ORGANIZATION');
    expect(ok(await resolve(org.runtime, 'fast')).resolveModelAlias.alias.level).toBe('ORGANIZATION');

    // Every call is audited as a credentials read of the alias, never with the secrets.
    const audit = await f.auditEvents(org.id, 'agent_credentials');
    expect(audit.map((event) => [event.action, event.status, event.actorSubject])).toEqual(Array(6).fill(['read', 'SUCCESS', 'agent-runtime']));
    expect(audit[0]!.resourceId).toBe(forOrganization.alias.databaseId);
    expect(audit.at(-1)!.workspaceId).toBeNull();
    expect(JSON.stringify(audit)).not.toContain(API_KEY);
    expect(t.logs.join('')).not.toContain(API_KEY);
  });

  it('resolves with empty configs when no target may be used, never to another model; NOT_FOUND when no alias has that name', async () => {
    const org = await organization('Unusable');
    const [granted, a, b] = await entries(org.id, 3);
    await enableThroughApi(t, org.token, granted!);
    const workspace = await f.workspace(org.id);
    ok(await set(org, 'reasoning', [a!, b!]));
    for (const workspaceId of [null, workspace.id]) {
      const route = ok(await resolve(org.runtime, 'reasoning', workspaceId)).resolveModelAlias;
      expect(route.configs).toEqual([]);
      expect(ids(route.skipped)).toEqual([a, b]);
    }
    // Inline literals, as a runtime would write them.
    const missing = await t.request(`{ resolveModelAlias(name: "embedding") { configs { modelName } } }`, {}, { token: org.runtime });
    expect(codes(missing)).toEqual(['NOT_FOUND']);
    const workspaceOnly = await organization('WorkspaceOnly');
    const [entry] = await entries(workspaceOnly.id, 1);
    const ws = await f.workspace(workspaceOnly.id);
    ok(await set(workspaceOnly, 'local', [entry!], ws.id));
    expect(codes(await resolve(workspaceOnly.runtime, 'local'))).toEqual(['NOT_FOUND']);
    expect(ok(await resolve(workspaceOnly.runtime, 'local', ws.id)).resolveModelAlias.alias.level).toBe('WORKSPACE');
    expect(codes(await resolve(org.runtime, 'Not A Name'))).toEqual(['BAD_USER_INPUT']);
    // Failures are audited too.
    const audit = await f.auditEvents(workspaceOnly.id, 'agent_credentials');
    expect(audit.map((event) => [event.status, event.errorCode])).toEqual([['FAILURE', 'NOT_FOUND'], ['SUCCESS', null]]);
  });

  it('answers a foreign or unknown workspace with NOT_FOUND', async () => {
    const org = await organization('ForeignWs');
    const other = await organization('OtherWs');
    const [entry] = await entries(org.id, 1);
    ok(await set(org, 'fast', [entry!]));
    const foreign = await f.workspace(other.id);
    expect(codes(await resolve(org.runtime, 'fast', foreign.id))).toEqual(['NOT_FOUND']);
    expect(codes(await list(org.token, foreign.id))).toEqual(['NOT_FOUND']);
    expect(codes(await set(org, 'fast', [entry!], foreign.id))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request(DELETE, { name: 'fast', ws: workspaceGid(foreign.id) }, { token: org.token }))).toEqual(['NOT_FOUND']);
  });

  it('takes the same number of statements for 1 and for 10 targets', async () => {
    const org = await organization('Statements');
    const provider = await f.customProvider(org.id, { secrets: { apiKey: API_KEY } });
    const gateway = await Promise.all(Array.from({ length: 5 }, (_, i) => f.customEntry(org.id, provider.id, `gw-${i}`)));
    const own = await entries(org.id, 5);
    const ten = [...gateway.map((entry) => entry.id), ...own];
    for (const id of ten.slice(0, 8)) await enableThroughApi(t, org.token, id);
    const workspace = await f.workspace(org.id);
    ok(await set(org, 'one', [gateway[0]!.id]));
    ok(await set(org, 'ten', ten));
    // The first request of a token also looks its organization up: done before counting.
    ok(await t.request('{ viewer { subject } }', {}, { token: org.runtime }));
    const counted = async (name: string, workspaceId: string | null) => {
      const before = statements;
      const route = ok(await resolve(org.runtime, name, workspaceId)).resolveModelAlias;
      return { statements: statements - before, configs: route.configs.length, skipped: route.skipped.length };
    };
    for (const workspaceId of [null, workspace.id]) {
      const one = await counted('one', workspaceId);
      const many = await counted('ten', workspaceId);
      expect([one.configs, many.configs, many.skipped]).toEqual([1, 8, 2]);
      expect(many.statements).toBe(one.statements);
      expect(many.statements).toBeLessThanOrEqual(10);
    }
  });
});

describe('setModelAlias and deleteModelAlias', () => {
  it('creates, replaces and deletes, with one event and one audit record per change, and none for an identical replacement', async () => {
    const org = await organization('Events');
    const [a, b, c] = await entries(org.id, 3);
    const workspace = await f.workspace(org.id);
    let created!: any;
    const createEvents = await eventsOf(t, org.id, org.token, async () => {
      created = ok(await set(org, 'fast', [a!, b!], null, 'first')).setModelAlias.modelAlias;
      ok(await set(org, 'fast', [c!], workspace.id));
    });
    expect(created).toMatchObject({ name: 'fast', description: 'first', level: 'ORGANIZATION', workspace: null, targets: [{ databaseId: a }, { databaseId: b }] });
    expect(createEvents.map((event) => [event.subjectType, event.action, event.subjectId, event.workspaceId])).toEqual([
      ['MODEL_ALIAS', 'CREATED', created.id, null],
      ['MODEL_ALIAS', 'CREATED', expect.any(String), workspaceGid(workspace.id)],
    ]);
    expect(createEvents[0]!.subject).toEqual({ id: created.id });

    const replaceEvents = await eventsOf(t, org.id, org.token, async () => {
      // Identical: nothing changes.
      ok(await set(org, 'fast', [a!, b!], null, 'first'));
      // Reordered targets, then a new description.
      const reordered = ok(await set(org, 'fast', [b!, a!], null, 'first')).setModelAlias.modelAlias;
      expect(reordered.targets).toEqual([{ databaseId: b }, { databaseId: a }]);
      expect(reordered.id).toBe(created.id);
      expect(Date.parse(reordered.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
      const described = ok(await set(org, 'fast', [b!, a!])).setModelAlias.modelAlias;
      expect(described.description).toBeNull();
    });
    expect(kinds(replaceEvents)).toEqual(['MODEL_ALIAS UPDATED', 'MODEL_ALIAS UPDATED']);

    const deleteEvents = await eventsOf(t, org.id, org.token, async () => {
      const deleted = ok(await t.request<any>(DELETE, { name: 'fast' }, { token: org.token })).deleteModelAlias;
      expect(deleted.deletedId).toBe(created.id);
      expect(codes(await t.request(DELETE, { name: 'fast' }, { token: org.token }))).toEqual(['NOT_FOUND']);
    });
    expect(deleteEvents.map((event) => [event.action, event.subjectId, event.subject])).toEqual([['DELETED', created.id, null]]);
    // The workspace alias is still there, now the only one of that name.
    expect(names(ok(await list(org.token, workspace.id)).modelAliases)).toEqual(['fast:WORKSPACE']);
    expect(names(ok(await list(org.token)).modelAliases)).toEqual([]);

    const audit = await f.auditEvents(org.id, 'agent_model_alias');
    expect(audit.map((event) => [event.action, event.status, event.errorCode])).toEqual([
      ['create', 'SUCCESS', null],
      ['create', 'SUCCESS', null],
      ['update', 'SUCCESS', null],
      ['update', 'SUCCESS', null],
      ['update', 'SUCCESS', null],
      ['delete', 'SUCCESS', null],
      ['delete', 'FAILURE', 'NOT_FOUND'],
    ]);
    expect(audit[0]!.resourceId).toBe(created.databaseId);
    expect(audit[1]!.workspaceId).toBe(workspace.id);
  });

  it('refuses out-of-bounds input with BAD_USER_INPUT and invisible targets with NOT_FOUND, storing nothing', async () => {
    const org = await organization('Bounds');
    const other = await organization('BoundsOther');
    const eleven = await entries(org.id, 11);
    const [foreign] = await entries(other.id, 1);
    const refusals: [string, any][] = [
      ['', [eleven[0]]],
      ['Fast', [eleven[0]]],
      ['-fast', [eleven[0]]],
      ['a'.repeat(64), [eleven[0]]],
      ['fast model', [eleven[0]]],
      ['fast', []],
      ['fast', eleven],
      ['fast', [eleven[0], eleven[1], eleven[0]]],
    ];
    for (const [name, targets] of refusals) {
      const response = await set(org, name, targets);
      expect(codes(response), `${name} ${targets.length}`).toEqual(['BAD_USER_INPUT']);
    }
    expect(codes(await set(org, 'fast', [eleven[0]!], null, 'x'.repeat(501)))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.request(`mutation { setModelAlias(input: { name: "fast", targetIds: ["not-an-id"] }) { modelAlias { id } } }`, {}, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.request(`mutation($ws: ID!) { setModelAlias(input: { name: "fast", targetIds: [$ws] }) { modelAlias { id } } }`, { ws: workspaceGid(org.id) }, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
    // Another organization's entry, or an unknown one, is NOT_FOUND even beside visible ones.
    expect(codes(await set(org, 'fast', [eleven[0]!, foreign!]))).toEqual(['NOT_FOUND']);
    expect(codes(await set(org, 'fast', [eleven[0]!, crypto.randomUUID()]))).toEqual(['NOT_FOUND']);
    expect(ok(await list(org.token)).modelAliases.totalCount).toBe(0);
    // The largest allowed values pass.
    const largest = ok(await set(org, `a${'.-_9'.repeat(15)}zz`, eleven.slice(0, 10), null, 'x'.repeat(500))).setModelAlias.modelAlias;
    expect(largest.targets).toHaveLength(10);
    expect(largest.name).toHaveLength(63);
  });

  it('allows at most 1 000 aliases per organization, all levels together, also under concurrent creates', async () => {
    const org = await organization('Limit');
    const [entry] = await entries(org.id, 1);
    const workspace = await f.workspace(org.id);
    await f.tenant(org.id, (tx) =>
      tx.agentModelAlias.createMany({
        data: Array.from({ length: 998 }, (_, i) => ({ organizationId: org.id, workspaceId: i % 2 ? workspace.id : null, name: `bulk-${i}` })),
      }),
    );
    const racing = await Promise.all([set(org, 'last-a', [entry!], workspace.id), set(org, 'last-b', [entry!]), set(org, 'last-c', [entry!])]);
    expect(racing.map((response) => codes(response)[0] ?? 'OK').sort()).toEqual(['BAD_USER_INPUT', 'OK', 'OK']);
    expect(ok(await list(org.token)).modelAliases.totalCount + ok(await list(org.token, workspace.id)).modelAliases.totalCount).toBeGreaterThan(0);
    const count = await f.tenant(org.id, (tx) => tx.agentModelAlias.count({ where: { organizationId: org.id } }));
    expect(count).toBe(1_000);
    // Replacing an existing alias is still allowed at the limit.
    ok(await set(org, 'bulk-0', [entry!]));
  });

  it('needs agent:update; resolving needs agent:read and agent:credentials:read', async () => {
    const org = await organization('Scopes');
    const [entry] = await entries(org.id, 1);
    const reader = await t.token({ organizationId: org.id, scopes: ['agent:read', 'agent:credentials:read', 'agent:create', 'agent:delete'] });
    const refused = await set(org, 'fast', [entry!], null, null, reader);
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors![0]!.extensions).toMatchObject({ requiredScopes: ['agent:update'], missingScopes: ['agent:update'] });
    expect(codes(await t.request(DELETE, { name: 'fast' }, { token: reader }))).toEqual(['FORBIDDEN']);
    const updater = await t.token({ organizationId: org.id, scopes: ['agent:update'] });
    ok(await set(org, 'fast', [entry!], null, null, updater));
    const credentialsOnly = await t.token({ organizationId: org.id, scopes: ['agent:credentials:read'] });
    const noRead = await resolve(credentialsOnly, 'fast');
    expect(noRead.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['agent:read'] });
    const readOnly = await t.token({ organizationId: org.id, scopes: ['agent:read'] });
    expect((await resolve(readOnly, 'fast')).errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['agent:credentials:read'] });
    ok(await list(readOnly));
    expect(codes(await list(credentialsOnly))).toEqual(['FORBIDDEN']);
    // Refused resolutions are audited as credential reads.
    expect((await f.auditEvents(org.id, 'agent_credentials')).map((event) => event.errorCode)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});

describe('modelAliases', () => {
  it("lists the organization's aliases by name, and for a workspace its own over the organization's, page by page", async () => {
    const org = await organization('List');
    const [a, b] = await entries(org.id, 2);
    const workspace = await f.workspace(org.id);
    for (const name of ['reasoning', 'embedding', 'fast']) ok(await set(org, name, [a!]));
    ok(await set(org, 'fast', [b!], workspace.id, 'workspace fast'));
    ok(await set(org, 'vision', [b!], workspace.id));

    expect(names(ok(await list(org.token)).modelAliases)).toEqual(['embedding:ORGANIZATION', 'fast:ORGANIZATION', 'reasoning:ORGANIZATION']);
    const view = ok(await list(org.token, workspace.id)).modelAliases;
    expect(names(view)).toEqual(['embedding:ORGANIZATION', 'fast:WORKSPACE', 'reasoning:ORGANIZATION', 'vision:WORKSPACE']);
    expect(view.totalCount).toBe(4);
    expect(view.edges[1].node).toMatchObject({ description: 'workspace fast', workspace: { databaseId: workspace.id }, targets: [{ databaseId: b }] });

    const pages: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = ok(await list(org.token, workspace.id, 1, after)).modelAliases;
      pages.push(...names(page));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toEqual(names(view));
    const last = ok(await t.request<any>(`query($ws: ID, $before: String) { modelAliases(workspaceId: $ws, last: 2, before: $before) {
      pageInfo { hasPreviousPage startCursor } edges { node { name } } } }`, { ws: workspaceGid(workspace.id) }, { token: org.token })).modelAliases;
    expect(last.edges.map((edge: any) => edge.node.name)).toEqual(['reasoning', 'vision']);
    expect(last.pageInfo.hasPreviousPage).toBe(true);
    const earlier = ok(await t.request<any>(`query($ws: ID, $before: String) { modelAliases(workspaceId: $ws, last: 5, before: $before) {
      pageInfo { hasPreviousPage } edges { node { name } } } }`, { ws: workspaceGid(workspace.id), before: last.pageInfo.startCursor }, { token: org.token })).modelAliases;
    expect([earlier.edges.map((edge: any) => edge.node.name), earlier.pageInfo.hasPreviousPage]).toEqual([['embedding', 'fast'], false]);
    expect(codes(await list(org.token, null, 101))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.request(LIST, { after: 'bogus' }, { token: org.token }))).toEqual(['BAD_USER_INPUT']);

    // Workspace.modelAliases is the same view, for every workspace of a page.
    const nested = ok(await t.request<any>(`{ workspaces { edges { node { databaseId modelAliases(first: 10) { edges { node { name level } } } } } } }`, {}, { token: org.token }));
    const mine = nested.workspaces.edges.find((edge: any) => edge.node.databaseId === workspace.id).node;
    expect(names(mine.modelAliases)).toEqual(names(view));
  });

  it('lists the aliases of a page of workspaces in the statements of one', async () => {
    const counted = async (workspaces: number) => {
      const org = await organization(`Page${workspaces}`);
      const [a, b] = await entries(org.id, 2);
      ok(await set(org, 'fast', [a!, b!]));
      ok(await set(org, 'slow', [b!]));
      for (let i = 0; i < workspaces; i++) ok(await set(org, 'fast', [b!], (await f.workspace(org.id)).id));
      ok(await t.request('{ viewer { subject } }', {}, { token: org.token }));
      const before = statements;
      const page = ok(await t.request<any>(`query($first: Int) { workspaces(first: 10) { edges { node { modelAliases(first: $first) {
        totalCount edges { node { name level targets { databaseId } } } } } } } }`, { first: 5 }, { token: org.token })).workspaces;
      expect(page.edges.map((edge: any) => names(edge.node.modelAliases))).toEqual(Array(workspaces).fill(['fast:WORKSPACE', 'slow:ORGANIZATION']));
      expect(page.edges.every((edge: any) => edge.node.modelAliases.totalCount === 2)).toBe(true);
      return statements - before;
    };
    expect(await counted(4)).toBe(await counted(1));
  });

  it('answers again after a change to an alias, although the question was cached', async () => {
    const org = await organization('Cache');
    const [a, b] = await entries(org.id, 2);
    ok(await set(org, 'fast', [a!]));
    for (let i = 0; i < 2; i++) expect(ok(await list(org.token)).modelAliases.edges[0].node.targets).toEqual([{ databaseId: a }]);
    // Asked a third time, the cache answers: no statement of the data layer (the cache sends its validity check itself).
    const before = statements;
    expect(ok(await list(org.token)).modelAliases.edges[0].node.targets).toEqual([{ databaseId: a }]);
    expect(statements - before).toBe(0);
    ok(await set(org, 'fast', [b!]));
    expect(ok(await list(org.token)).modelAliases.edges[0].node.targets).toEqual([{ databaseId: b }]);
    await f.deleteEntry(org.id, b!);
    expect(ok(await list(org.token)).modelAliases.edges[0].node.targets).toEqual([]);
  });
});

describe('change subscriptions', () => {
  it('deliver alias changes with their subject over SSE and WebSocket, filtered by subject type', async () => {
    const org = await organization('Subscribe');
    const [a, b] = await entries(org.id, 2);
    const url = await t.listen();
    const query = `subscription($after: String, $filter: ChangeEventFilter) { changes(after: $after, filter: $filter) {
      action subjectType subjectId workspaceId catalogEntryId subject { id ... on ModelAlias { name targets { databaseId } } } } }`;
    const filter = { subjectTypes: ['MODEL_ALIAS'] };
    const subscriptions = [subscribeSse(t, org.token, { query, filter }), subscribeWs(url, org.token, { query, filter })];
    await untilSubscribed(t, subscriptions.length);
    const alias = ok(await set(org, 'fast', [a!])).setModelAlias.modelAlias;
    await f.workspace(org.id);
    ok(await set(org, 'fast', [b!, a!]));
    ok(await t.request(DELETE, { name: 'fast' }, { token: org.token }));
    for (const subscription of subscriptions) {
      const events = (await subscription.waitFor(3)) as any[];
      expect(events.map((event) => [event.subjectType, event.action, event.subjectId, event.workspaceId, event.catalogEntryId])).toEqual([
        ['MODEL_ALIAS', 'CREATED', alias.id, null, null],
        ['MODEL_ALIAS', 'UPDATED', alias.id, null, null],
        ['MODEL_ALIAS', 'DELETED', alias.id, null, null],
      ]);
      // Read when delivered: the alias may have changed or gone by then.
      expect(events.every((event) => event.subject === null || event.subject.name === 'fast')).toBe(true);
      subscription.close();
    }
  });
});

describe('workspace-bound tokens', () => {
  it('see and resolve their own workspace only, and nothing else', async () => {
    const org = await organization('Bound');
    const [own, other] = await entries(org.id, 2);
    const mine = await f.workspace(org.id);
    const theirs = await f.workspace(org.id);
    await enableThroughApi(t, org.token, own!, mine.id);
    await enableThroughApi(t, org.token, other!);
    ok(await set(org, 'fast', [other!, own!]));
    ok(await set(org, 'fast', [own!], mine.id));
    ok(await set(org, 'secret', [other!], theirs.id));
    const bound = await t.token({ organizationId: org.id, workspaceId: mine.id, scopes: ['agent:read', 'agent:credentials:read', 'agent:update'] });

    // Row-level security alone, for an unfiltered query in the bound token's scope: no other workspace's alias.
    const rows = await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id, workspaceId: mine.id }, (tx) =>
      tx.$queryRaw<{ name: string; workspace_id: string | null }[]>`SELECT name, workspace_id::text FROM agent_model_alias ORDER BY name, workspace_id NULLS FIRST`,
    );
    expect(rows).toEqual([{ name: 'fast', workspace_id: null }, { name: 'fast', workspace_id: mine.id }]);

    // No workspaceId means its own view.
    const view = ok(await list(bound)).modelAliases;
    expect(names(view)).toEqual(['fast:WORKSPACE']);
    expect(names(ok(await list(bound, mine.id)).modelAliases)).toEqual(['fast:WORKSPACE']);
    expect(codes(await list(bound, theirs.id))).toEqual(['FORBIDDEN']);
    const route = ok(await resolve(bound, 'fast')).resolveModelAlias;
    expect(route.alias.level).toBe('WORKSPACE');
    expect(ids(route.configs.map((config: any) => config.catalogEntry))).toEqual([own]);
    expect(codes(await resolve(bound, 'fast', theirs.id))).toEqual(['FORBIDDEN']);
    expect(codes(await resolve(bound, 'secret'))).toEqual(['NOT_FOUND']);
    // Workspace.modelAliases of its own workspace, reached through an alias.
    const nested = ok(await t.request<any>(`{ modelAliases { edges { node { workspace { modelAliases { edges { node { name } } } } } } } }`, {}, { token: bound }));
    expect(nested.modelAliases.edges[0].node.workspace.modelAliases.edges).toEqual([{ node: { name: 'fast' } }]);
    // Every mutation, node() and the other workspace's objects are out of reach.
    expect(codes(await set(org, 'fast', [own!], mine.id, null, bound))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(DELETE, { name: 'fast', ws: workspaceGid(mine.id) }, { token: bound }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(`query($id: ID!) { node(id: $id) { id } }`, { id: route.alias.databaseId ? aliasGid(route.alias.databaseId) : '' }, { token: bound }))).toEqual(['FORBIDDEN']);

    // Change events: its own workspace's and the organization's aliases, with their subjects.
    const events = await eventsOf(t, org.id, org.token, async () => {
      ok(await set(org, 'fast', [own!, other!]));
      ok(await set(org, 'fast', [other!], mine.id));
      ok(await set(org, 'secret', [own!], theirs.id));
    });
    expect(kinds(events)).toEqual(['MODEL_ALIAS UPDATED', 'MODEL_ALIAS UPDATED', 'MODEL_ALIAS UPDATED']);
    const seen = ok(
      await t.request<any>(`query($types: [ChangeSubject!]) { changeEvents(first: 100, filter: { subjectTypes: $types }) { edges { node { action workspaceId subjectId subject { id ... on ModelAlias { name level } } } } } }`, { types: ['MODEL_ALIAS'] }, { token: bound }),
    ).changeEvents.edges.map((edge: any) => edge.node);
    expect(seen.every((event: any) => event.workspaceId === null || event.workspaceId === workspaceGid(mine.id))).toBe(true);
    expect(seen.some((event: any) => event.workspaceId === workspaceGid(theirs.id))).toBe(false);
    expect(seen.at(-1)).toMatchObject({ action: 'UPDATED', workspaceId: workspaceGid(mine.id), subject: { name: 'fast', level: 'WORKSPACE' } });
    expect(seen.filter((event: any) => event.workspaceId === null).at(-1)).toMatchObject({ subject: { name: 'fast', level: 'ORGANIZATION' } });
  });
});

describe('cascades', () => {
  it('removes a deleted catalog entry from every alias, keeping the order of the others, with an UPDATED of each', async () => {
    const org = await organization('EntryCascade');
    const [a, b, c] = await entries(org.id, 3);
    const workspace = await f.workspace(org.id);
    const first = ok(await set(org, 'fast', [a!, b!, c!])).setModelAlias.modelAlias;
    const second = ok(await set(org, 'fast', [b!, a!], workspace.id)).setModelAlias.modelAlias;
    ok(await set(org, 'other', [c!]));
    const events = await eventsOf(t, org.id, org.token, () =>
      t.request(`mutation($id: ID!) { deleteCatalogEntry(input: { id: $id }) { deletedId } }`, { id: catalogGid(a!) }, { token: org.token }).then(ok),
    );
    const aliasEvents = events.filter((event) => event.subjectType === 'MODEL_ALIAS');
    expect(aliasEvents.map((event) => [event.action, event.subjectId, event.workspaceId]).sort()).toEqual(
      [
        ['UPDATED', first.id, null],
        ['UPDATED', second.id, workspaceGid(workspace.id)],
      ].sort(),
    );
    expect(kinds(events.filter((event) => event.subjectType !== 'MODEL_ALIAS'))).toEqual(['CATALOG_ENTRY DELETED']);
    expect(ids(ok(await resolve(org.runtime, 'fast')).resolveModelAlias.alias.targets)).toEqual([b, c]);
    expect(ids(ok(await resolve(org.runtime, 'fast', workspace.id)).resolveModelAlias.alias.targets)).toEqual([b]);
    // The last target gone, the alias stays, resolving to nothing.
    await eventsOf(t, org.id, org.token, () => f.deleteEntry(org.id, c!));
    const emptied = ok(await resolve(org.runtime, 'other')).resolveModelAlias;
    expect([emptied.alias.targets, emptied.configs, emptied.skipped]).toEqual([[], [], []]);
  });

  it("removes a deleted workspace's aliases with a DELETED of each", async () => {
    const org = await organization('WorkspaceCascade');
    const [a] = await entries(org.id, 1);
    const workspace = await f.workspace(org.id);
    const kept = ok(await set(org, 'fast', [a!])).setModelAlias.modelAlias;
    const gone = [
      ok(await set(org, 'fast', [a!], workspace.id)).setModelAlias.modelAlias,
      ok(await set(org, 'slow', [a!], workspace.id)).setModelAlias.modelAlias,
    ];
    const events = await eventsOf(t, org.id, org.token, () =>
      t.request(`mutation { deleteWorkspace(input: { id: "${workspaceGid(workspace.id)}" }) { deletedId } }`, {}, { token: org.token }).then(ok),
    );
    const aliasEvents = events.filter((event) => event.subjectType === 'MODEL_ALIAS');
    expect(aliasEvents.map((event) => [event.action, event.subjectId, event.workspaceId]).sort()).toEqual(
      gone.map((alias) => ['DELETED', alias.id, workspaceGid(workspace.id)]).sort(),
    );
    const stored = await f.tenant(org.id, (tx) => tx.agentModelAlias.findMany({ where: { organizationId: org.id } }));
    expect(stored.map((alias) => alias.id)).toEqual([kept.databaseId]);
    const targets = await f.tenant(org.id, (tx) => tx.agentModelAliasTarget.count({ where: { aliasId: { in: gone.map((alias) => alias.databaseId) } } }));
    expect(targets).toBe(0);
  });
});

describe('tenant isolation', () => {
  it("hides another organization's aliases from the API and, through row-level security alone, from unfiltered queries", async () => {
    const a = await organization('IsolationA');
    const b = await organization('IsolationB');
    const [entryA] = await entries(a.id, 1);
    const [entryB] = await entries(b.id, 1);
    const aliasA = ok(await set(a, 'fast', [entryA!])).setModelAlias.modelAlias;
    ok(await set(b, 'fast', [entryB!]));
    ok(await set(b, 'only-b', [entryB!]));
    expect(names(ok(await list(a.token)).modelAliases)).toEqual(['fast:ORGANIZATION']);
    expect(ids(ok(await resolve(a.runtime, 'fast')).resolveModelAlias.alias.targets)).toEqual([entryA]);
    expect(codes(await resolve(a.runtime, 'only-b'))).toEqual(['NOT_FOUND']);
    expect(codes(await t.request(DELETE, { name: 'only-b' }, { token: a.token }))).toEqual(['NOT_FOUND']);
    expect(ok(await t.request<any>(`query($id: ID!) { node(id: $id) { id } }`, { id: aliasA.id }, { token: b.token })).node).toBeNull();

    const prisma = t.services.database.prisma;
    const rows = await scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ organization_id: string }[]>`SELECT organization_id::text FROM agent_model_alias`,
    );
    expect(rows.length).toBe(2);
    expect(rows.every((row) => row.organization_id === b.id)).toBe(true);
    const targets = await scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ organization_id: string }[]>`SELECT organization_id::text FROM agent_model_alias_target`,
    );
    expect(targets.every((row) => row.organization_id === b.id)).toBe(true);
    // Neither an alias of another organization nor a target naming an entry it cannot see can be written.
    await expect(
      scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
        tx.$executeRaw`INSERT INTO agent_model_alias (organization_id, name) VALUES (${a.id}::uuid, 'intruder')`,
      ),
    ).rejects.toThrow();
    await expect(
      scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
        tx.$executeRaw`INSERT INTO agent_model_alias_target (organization_id, alias_id, position, catalog_id)
          SELECT organization_id, id, 5, ${entryA}::uuid FROM agent_model_alias WHERE name = 'only-b'`,
      ),
    ).rejects.toThrow();
  });
});
