import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import {
  AccessNodeDocument,
  DisableModelDocument,
  EnableModelDocument,
  ModelAccessGrantsDocument,
} from '../generated/graphql.ts';
import { catalogGid, fixtures, grantGid, workspaceGid } from './fixtures.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let org: { id: string; token: string };
let other: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  f = fixtures(t);
  org = await t.organization('Acme');
  other = await t.organization('Other');
});
afterAll(() => t.close());

describe('enableModel', () => {
  it('grants a platform entry to the organization and a workspace, with ModelAccess fields', async () => {
    const entry = await f.platformEntry('gpt-grant');
    const workspace = await f.workspace(org.id);

    const orgGrant = ok(await t.request(EnableModelDocument, { catalogEntryId: catalogGid(entry.id) }, { token: org.token }))
      .enableModel.modelAccess;
    expect(orgGrant).toMatchObject({
      level: 'ORGANIZATION',
      workspace: null,
      catalogEntry: { databaseId: entry.id, modelName: 'gpt-grant', origin: 'PLATFORM' },
    });
    expect(orgGrant.id).toBe(grantGid(orgGrant.databaseId));

    const wsGrant = ok(
      await t.request(
        EnableModelDocument,
        { catalogEntryId: catalogGid(entry.id), workspaceId: workspaceGid(workspace.id) },
        { token: org.token },
      ),
    ).enableModel.modelAccess;
    expect(wsGrant).toMatchObject({
      level: 'WORKSPACE',
      workspace: { databaseId: workspace.id },
      catalogEntry: { databaseId: entry.id },
    });

    const stored = (await f.grantsOf(org.id)).filter((grant) => grant.catalogId === entry.id);
    expect(stored.map((grant) => grant.workspaceId).sort()).toEqual([null, workspace.id].sort());

    // The node interface finds the grant, and only in its organization.
    const node = ok(await t.request(AccessNodeDocument, { id: wsGrant.id }, { token: org.token })).node;
    expect(node).toMatchObject({ __typename: 'ModelAccess', level: 'WORKSPACE', workspace: { databaseId: workspace.id } });
    expect(ok(await t.request(AccessNodeDocument, { id: wsGrant.id }, { token: other.token })).node).toBeNull();

    const audit = await f.auditEvents(org.id, 'agent_model_access');
    expect(audit.filter((event) => event.status === 'SUCCESS' && event.action === 'create').map((event) => event.resourceId))
      .toEqual(expect.arrayContaining([orgGrant.databaseId, wsGrant.databaseId]));
    expect(audit.find((event) => event.resourceId === wsGrant.databaseId)?.workspaceId).toBe(workspace.id);
  });

  it('grants the organization its own and its custom-provider entries', async () => {
    const own = await f.orgEntry(org.id, 'own-model');
    const provider = await f.customProvider(org.id);
    const custom = await f.customEntry(org.id, provider.id, 'custom-model');
    for (const entry of [own, custom]) {
      const grant = ok(await t.request(EnableModelDocument, { catalogEntryId: catalogGid(entry.id) }, { token: org.token }));
      expect(grant.enableModel.modelAccess.catalogEntry.databaseId).toBe(entry.id);
    }
  });

  it('answers CONFLICT for an identical grant, at either level, and keeps one row', async () => {
    const entry = await f.platformEntry('gpt-twice');
    const workspace = await f.workspace(org.id);
    for (const workspaceId of [null, workspaceGid(workspace.id)]) {
      const variables = { catalogEntryId: catalogGid(entry.id), workspaceId };
      ok(await t.request(EnableModelDocument, variables, { token: org.token }));
      const again = await t.request(EnableModelDocument, variables, { token: org.token });
      expect(codes(again)).toEqual(['CONFLICT']);
    }
    expect((await f.grantsOf(org.id)).filter((grant) => grant.catalogId === entry.id)).toHaveLength(2);
    const failures = (await f.auditEvents(org.id, 'agent_model_access')).filter((event) => event.status === 'FAILURE');
    expect(failures.map((event) => event.errorCode)).toContain('CONFLICT');
  });

  it('lets exactly one of 20 concurrent identical calls win; the others get CONFLICT', async () => {
    const entry = await f.platformEntry('gpt-race');
    const workspace = await f.workspace(org.id);
    for (const workspaceId of [null, workspaceGid(workspace.id)]) {
      const variables = { catalogEntryId: catalogGid(entry.id), workspaceId };
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => t.request(EnableModelDocument, variables, { token: org.token })),
      );
      const succeeded = responses.filter((response) => !response.errors && response.data?.enableModel);
      const errorCodes = responses.flatMap((response) => codes(response));
      expect(succeeded).toHaveLength(1);
      expect(errorCodes).toHaveLength(19);
      expect(new Set(errorCodes)).toEqual(new Set(['CONFLICT']));
    }
    expect((await f.grantsOf(org.id)).filter((grant) => grant.catalogId === entry.id)).toHaveLength(2);
  });

  it('answers NOT_FOUND for an invisible entry or a foreign or unknown workspace', async () => {
    const foreignEntry = await f.orgEntry(other.id, 'their-model');
    const foreignWorkspace = await f.workspace(other.id);
    const entry = await f.platformEntry('gpt-checks');

    const cases = [
      { catalogEntryId: catalogGid(foreignEntry.id) },
      { catalogEntryId: catalogGid('00000000-0000-4000-8000-00000000abcd') },
      { catalogEntryId: catalogGid(entry.id), workspaceId: workspaceGid(foreignWorkspace.id) },
      { catalogEntryId: catalogGid(entry.id), workspaceId: workspaceGid('00000000-0000-4000-8000-00000000abcd') },
    ];
    for (const variables of cases) {
      expect(codes(await t.request(EnableModelDocument, variables, { token: org.token }))).toEqual(['NOT_FOUND']);
    }
    // Nothing was written in either organization.
    const touched = new Set([foreignEntry.id, entry.id]);
    expect((await f.grantsOf(org.id)).filter((grant) => touched.has(grant.catalogId))).toEqual([]);
    expect(await f.grantsOf(other.id)).toEqual([]);
  });

  it('refuses raw UUIDs and IDs of the wrong type with BAD_USER_INPUT', async () => {
    const entry = await f.platformEntry('gpt-ids');
    const workspace = await f.workspace(org.id);
    for (const variables of [
      { catalogEntryId: entry.id },
      { catalogEntryId: workspaceGid(workspace.id) },
      { catalogEntryId: catalogGid(entry.id), workspaceId: workspace.id },
      { catalogEntryId: catalogGid(entry.id), workspaceId: catalogGid(entry.id) },
    ]) {
      expect(codes(await t.request(EnableModelDocument, variables, { token: org.token }))).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('needs agent:create and refuses workspace-bound tokens', async () => {
    const entry = await f.platformEntry('gpt-scopes');
    const workspace = await f.workspace(org.id);
    const variables = { catalogEntryId: catalogGid(entry.id) };

    const reader = await t.token({ organizationId: org.id, scopes: ['agent:read', 'agent:update', 'agent:delete'] });
    const refused = await t.request(EnableModelDocument, variables, { token: reader });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['agent:create'] });

    const bound = await t.token({ organizationId: org.id, workspaceId: workspace.id });
    const own = { ...variables, workspaceId: workspaceGid(workspace.id) };
    expect(codes(await t.request(EnableModelDocument, own, { token: bound }))).toEqual(['FORBIDDEN']);

    const creator = await t.token({ organizationId: org.id, scopes: ['agent:create'] });
    ok(await t.request(EnableModelDocument, variables, { token: creator }));
  });
});

describe('disableModel', () => {
  it('removes a grant by its ModelAccess id and answers its global id', async () => {
    const entry = await f.platformEntry('gpt-disable');
    const grant = ok(await t.request(EnableModelDocument, { catalogEntryId: catalogGid(entry.id) }, { token: org.token }))
      .enableModel.modelAccess;
    const deleted = ok(await t.request(DisableModelDocument, { id: grant.id }, { token: org.token }));
    expect(deleted.disableModel.deletedId).toBe(grant.id);
    expect((await f.grantsOf(org.id)).map((row) => row.id)).not.toContain(grant.databaseId);

    // Gone now: a second attempt is NOT_FOUND, not a server error.
    expect(codes(await t.request(DisableModelDocument, { id: grant.id }, { token: org.token }))).toEqual(['NOT_FOUND']);
    const audit = (await f.auditEvents(org.id, 'agent_model_access')).filter((event) => event.action === 'delete');
    expect(audit.map((event) => [event.status, event.errorCode, event.resourceId])).toEqual(
      expect.arrayContaining([
        ['SUCCESS', null, grant.databaseId],
        ['FAILURE', 'NOT_FOUND', grant.databaseId],
      ]),
    );
  });

  it('answers NOT_FOUND for an unknown or foreign grant and leaves the other organization untouched', async () => {
    const entry = await f.platformEntry('gpt-foreign');
    const theirs = ok(await t.request(EnableModelDocument, { catalogEntryId: catalogGid(entry.id) }, { token: other.token }))
      .enableModel.modelAccess;
    expect(codes(await t.request(DisableModelDocument, { id: theirs.id }, { token: org.token }))).toEqual(['NOT_FOUND']);
    const unknown = grantGid('00000000-0000-4000-8000-00000000abcd');
    expect(codes(await t.request(DisableModelDocument, { id: unknown }, { token: org.token }))).toEqual(['NOT_FOUND']);
    const rawId = await t.request(DisableModelDocument, { id: theirs.databaseId }, { token: org.token });
    expect(codes(rawId)).toEqual(['BAD_USER_INPUT']);
    expect((await f.grantsOf(other.id)).map((row) => row.id)).toContain(theirs.databaseId);
  });

  it('needs agent:delete only and refuses workspace-bound tokens', async () => {
    const entry = await f.platformEntry('gpt-disable-scope');
    const workspace = await f.workspace(org.id);
    const grant = ok(await t.request(EnableModelDocument, { catalogEntryId: catalogGid(entry.id) }, { token: org.token }))
      .enableModel.modelAccess;
    const bound = await t.token({ organizationId: org.id, workspaceId: workspace.id });
    expect(codes(await t.request(DisableModelDocument, { id: grant.id }, { token: bound }))).toEqual(['FORBIDDEN']);
    const creator = await t.token({ organizationId: org.id, scopes: ['agent:create', 'agent:read'] });
    expect(codes(await t.request(DisableModelDocument, { id: grant.id }, { token: creator }))).toEqual(['FORBIDDEN']);
    const deleter = await t.token({ organizationId: org.id, scopes: ['agent:delete'] });
    ok(await t.request(DisableModelDocument, { id: grant.id }, { token: deleter }));
  });
});

describe('modelAccessGrants', () => {
  it('lists every grant of the organization, or one workspace’s own grants, newest first', async () => {
    const lister = await t.organization('Lister');
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => f.platformEntry(`gpt-list-${name}`)));
    const workspace = await f.workspace(lister.id);
    const empty = await f.workspace(lister.id);
    const enable = async (entryId: string, workspaceId?: string) =>
      ok(
        await t.request(
          EnableModelDocument,
          { catalogEntryId: catalogGid(entryId), workspaceId: workspaceId ? workspaceGid(workspaceId) : null },
          { token: lister.token },
        ),
      ).enableModel.modelAccess.databaseId;
    const created = [];
    for (const [entry, workspaceId] of [[a!, undefined], [b!, undefined], [a!, workspace.id], [c!, workspace.id]] as const) {
      created.push(await enable(entry.id, workspaceId));
    }

    const all = ok(await t.request(ModelAccessGrantsDocument, {}, { token: lister.token })).modelAccessGrants;
    expect(all.totalCount).toBe(4);
    expect(new Set(all.edges.map((edge) => edge.node.databaseId))).toEqual(new Set(created));
    const times = all.edges.map((edge) => edge.node.createdAt);
    expect([...times].sort().reverse()).toEqual(times);

    const own = ok(
      await t.request(ModelAccessGrantsDocument, { workspaceId: workspaceGid(workspace.id) }, { token: lister.token }),
    ).modelAccessGrants;
    expect(own.totalCount).toBe(2);
    expect(own.edges.map((edge) => edge.node.level)).toEqual(['WORKSPACE', 'WORKSPACE']);
    expect(new Set(own.edges.map((edge) => edge.node.catalogEntry.databaseId))).toEqual(new Set([a!.id, c!.id]));

    const none = ok(await t.request(ModelAccessGrantsDocument, { workspaceId: workspaceGid(empty.id) }, { token: lister.token }));
    expect(none.modelAccessGrants).toMatchObject({ totalCount: 0, edges: [] });

    // Walk both ways one at a time: the same grants in the same order.
    const forward: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { modelAccessGrants: typeof all } = ok(
        await t.request(ModelAccessGrantsDocument, { first: 1, after }, { token: lister.token }),
      );
      forward.push(...page.modelAccessGrants.edges.map((edge) => edge.node.databaseId));
      if (!page.modelAccessGrants.pageInfo.hasNextPage) break;
      after = page.modelAccessGrants.pageInfo.endCursor ?? null;
    }
    expect(forward).toEqual(all.edges.map((edge) => edge.node.databaseId));
    const backward: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: { modelAccessGrants: typeof all } = ok(
        await t.request(ModelAccessGrantsDocument, { last: 3, before }, { token: lister.token }),
      );
      backward.unshift(...page.modelAccessGrants.edges.map((edge) => edge.node.databaseId));
      if (!page.modelAccessGrants.pageInfo.hasPreviousPage) break;
      before = page.modelAccessGrants.pageInfo.startCursor ?? null;
    }
    expect(backward).toEqual(forward);
  });

  it('answers NOT_FOUND for an unknown or foreign workspace and never lists another organization’s grants', async () => {
    const foreignWorkspace = await f.workspace(other.id);
    const entry = await f.platformEntry('gpt-iso');
    ok(
      await t.request(
        EnableModelDocument,
        { catalogEntryId: catalogGid(entry.id), workspaceId: workspaceGid(foreignWorkspace.id) },
        { token: other.token },
      ),
    );
    const foreign = { workspaceId: workspaceGid(foreignWorkspace.id) };
    expect(codes(await t.request(ModelAccessGrantsDocument, foreign, { token: org.token }))).toEqual(['NOT_FOUND']);
    const mine = ok(await t.request(ModelAccessGrantsDocument, { first: 100 }, { token: org.token })).modelAccessGrants;
    const theirs = new Set((await f.grantsOf(other.id)).map((grant) => grant.id));
    expect(mine.edges.filter((edge) => theirs.has(edge.node.databaseId))).toEqual([]);
  });

  it('needs agent:read, refuses workspace-bound tokens and bad cursors', async () => {
    const workspace = await f.workspace(org.id);
    const bound = await t.token({ organizationId: org.id, workspaceId: workspace.id });
    expect(codes(await t.request(ModelAccessGrantsDocument, {}, { token: bound }))).toEqual(['FORBIDDEN']);
    const writer = await t.token({ organizationId: org.id, scopes: ['agent:create'] });
    expect(codes(await t.request(ModelAccessGrantsDocument, {}, { token: writer }))).toEqual(['FORBIDDEN']);
    const badCursor = await t.request(ModelAccessGrantsDocument, { after: 'nonsense' }, { token: org.token });
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
  });
});
