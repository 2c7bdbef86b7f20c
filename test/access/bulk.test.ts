import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { catalogGid, eventsOf, fixtures, grantGid, workspaceGid } from './fixtures.ts';
import { kinds } from '../changes/feed-client.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let statements = 0;

beforeAll(async () => {
  // The cost limit lets one call of 5000 ids through, not two of 4000 (a call costs its ids).
  t = await startTestApp({ RATE_LIMIT_POINTS: '0', MAX_QUERY_COST: '6000' }, { onQuery: () => statements++ });
  f = fixtures(t);
});
afterAll(() => t.close());

const ENABLE = `mutation($ids: [ID!]!, $ws: ID) { enableModels(input: { catalogEntryIds: $ids, workspaceId: $ws }) {
  createdCount modelAccesses { id databaseId level catalogEntry { databaseId } workspace { databaseId } } } }`;
const ENABLE_IDS = `mutation($ids: [ID!]!, $ws: ID) { enableModels(input: { catalogEntryIds: $ids, workspaceId: $ws }) { createdCount modelAccesses { id databaseId } } }`;
const DISABLE = `mutation($ids: [ID!]!, $ws: ID) { disableModels(input: { catalogEntryIds: $ids, workspaceId: $ws }) { deletedIds } }`;
const REPLACE = `mutation($ids: [ID!]!, $ws: ID) { replaceModelAccess(input: { catalogEntryIds: $ids, workspaceId: $ws }) {
  createdCount deletedCount modelAccesses { id databaseId } } }`;

/** Catalog entries of the organization, created directly in one statement. */
async function entries(organizationId: string, count: number, prefix = 'bulk') {
  return f.tenant(organizationId, (tx) =>
    tx.agentCatalog.createManyAndReturn({
      data: Array.from({ length: count }, (_, i) => ({ organizationId, modelProvider: 'bedrock', modelName: `${prefix}-${String(i).padStart(5, '0')}` })),
      select: { id: true },
    }),
  ).then((rows) => rows.map((row) => row.id));
}

/** The catalog ids granted at one level. */
async function levelSet(organizationId: string, workspaceId: string | null) {
  const rows = await f.tenant(organizationId, (tx) => tx.agentModelAccess.findMany({ where: { organizationId, workspaceId }, select: { catalogId: true } }));
  return rows.map((row) => row.catalogId).sort();
}

/** The first request of a token also looks its organization up: done before counting. */
const warmUp = async (token: string) => ok(await t.request('{ viewer { subject } }', {}, { token }));

/** Runs `fn` and returns how many SQL statements it sent. */
async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const before = statements;
  const result = await fn();
  return { result, statements: statements - before };
}


const gids = (ids: string[]) => ids.map(catalogGid);

describe('bulk grants with 1000 ids', () => {
  it('enableModels into an empty workspace and replaceModelAccess back to empty: constant statements, one event per grant, one audit event per call', async () => {
    const org = await t.organization('Thousand');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 1000);
    const ws = workspaceGid(workspace.id);
    await warmUp(org.token);

    const single = await counted(async () => ok(await t.request<any>(ENABLE_IDS, { ids: gids(ids.slice(0, 1)), ws }, { token: org.token })));
    expect(single.result.enableModels.createdCount).toBe(1);
    const singleReplace = await counted(async () => ok(await t.request<any>(REPLACE, { ids: [], ws }, { token: org.token })));
    expect(singleReplace.result.replaceModelAccess.deletedCount).toBe(1);

    let enabled!: { result: any; statements: number };
    const created = await eventsOf(t, org.id, org.token, async () => {
      enabled = await counted(async () => ok(await t.request<any>(ENABLE_IDS, { ids: gids(ids), ws }, { token: org.token })));
    });
    expect(enabled.result.enableModels.createdCount).toBe(1000);
    expect(enabled.statements).toBe(single.statements);
    expect(enabled.statements).toBeLessThanOrEqual(10);
    const grants = enabled.result.enableModels.modelAccesses;
    expect(grants).toHaveLength(1000);
    expect(await levelSet(org.id, workspace.id)).toEqual([...ids].sort());
    expect(kinds(created)).toEqual(Array(1000).fill('MODEL_ACCESS CREATED'));
    expect(new Set(created.map((event) => event.subjectId))).toEqual(new Set(grants.map((grant: { id: string }) => grant.id)));
    expect(created.every((event) => event.workspaceId === ws)).toBe(true);

    let replaced!: { result: any; statements: number };
    const removed = await eventsOf(t, org.id, org.token, async () => {
      replaced = await counted(async () => ok(await t.request<any>(REPLACE, { ids: [], ws }, { token: org.token })));
    });
    expect(replaced.result.replaceModelAccess).toEqual({ createdCount: 0, deletedCount: 1000, modelAccesses: [] });
    expect(replaced.statements).toBe(singleReplace.statements);
    expect(kinds(removed)).toEqual(Array(1000).fill('MODEL_ACCESS DELETED'));
    expect(await levelSet(org.id, workspace.id)).toEqual([]);

    const audit = await f.auditEvents(org.id, 'agent_model_access');
    expect(audit.map((event) => [event.action, event.status, event.workspaceId, event.resourceId])).toEqual([
      ['create', 'SUCCESS', workspace.id, null],
      ['update', 'SUCCESS', workspace.id, null],
      ['create', 'SUCCESS', workspace.id, null],
      ['update', 'SUCCESS', workspace.id, null],
    ]);
  });

  it('disableModels of 1000 and replaceModelAccess of 1000 take the statements of one', async () => {
    const org = await t.organization('ThousandMore');
    const ids = await entries(org.id, 1001);
    const [first, ...rest] = ids;
    await warmUp(org.token);
    const replaceOne = await counted(async () => ok(await t.request<any>(REPLACE, { ids: gids([first!]) }, { token: org.token })));
    const replaceMany = await counted(async () => ok(await t.request<any>(REPLACE, { ids: gids(rest) }, { token: org.token })));
    expect(replaceMany.result.replaceModelAccess).toMatchObject({ createdCount: 1000, deletedCount: 1 });
    expect(replaceMany.statements).toBe(replaceOne.statements);
    expect(replaceMany.statements).toBeLessThanOrEqual(10);
    expect(replaceMany.result.replaceModelAccess.modelAccesses).toHaveLength(1000);

    const disableOne = await counted(async () => ok(await t.request<any>(DISABLE, { ids: gids(rest.slice(0, 1)) }, { token: org.token })));
    const disableMany = await counted(async () => ok(await t.request<any>(DISABLE, { ids: gids(rest.slice(1)) }, { token: org.token })));
    expect(disableOne.result.disableModels.deletedIds).toHaveLength(1);
    expect(disableMany.result.disableModels.deletedIds).toHaveLength(999);
    expect(disableMany.statements).toBe(disableOne.statements);
    expect(await levelSet(org.id, null)).toEqual([]);
  });
});

describe('enableModels', () => {
  it('is idempotent: existing grants come back in the order first requested, repeats count once, nothing new is recorded', async () => {
    const org = await t.organization('Idempotent');
    const ids = await entries(org.id, 4);
    const existing = await f.grant(org.id, [ids[2]!]).then(() => f.grantsOf(org.id));
    const requested = [ids[3]!, ids[2]!, ids[3]!, ids[0]!, ids[1]!];
    const first = ok(await t.request<any>(ENABLE, { ids: gids(requested) }, { token: org.token })).enableModels;
    expect(first.createdCount).toBe(3);
    expect(first.modelAccesses.map((grant: any) => grant.catalogEntry.databaseId)).toEqual([ids[3], ids[2], ids[0], ids[1]]);
    expect(first.modelAccesses[1].databaseId).toBe(existing[0]!.id);
    expect(first.modelAccesses.every((grant: any) => grant.level === 'ORGANIZATION' && grant.workspace === null)).toBe(true);

    const again = await eventsOf(t, org.id, org.token, async () => {
      const repeated = ok(await t.request<any>(ENABLE, { ids: gids(requested) }, { token: org.token })).enableModels;
      expect(repeated.createdCount).toBe(0);
      expect(repeated.modelAccesses).toEqual(first.modelAccesses);
    });
    expect(again).toEqual([]);
  });

  it('grants platform entries too, and workspace grants leave the organization level alone', async () => {
    const org = await t.organization('Levels');
    const workspace = await f.workspace(org.id);
    const platform = await f.platformEntry('bulk-platform');
    const [own] = await entries(org.id, 1);
    ok(await t.request<any>(ENABLE, { ids: gids([platform.id, own!]), ws: workspaceGid(workspace.id) }, { token: org.token }));
    expect(await levelSet(org.id, workspace.id)).toEqual([platform.id, own!].sort());
    expect(await levelSet(org.id, null)).toEqual([]);
  });
});

describe('all or nothing', () => {
  it('one invisible id fails the whole call with NOT_FOUND: nothing changes, no event, an audit FAILURE', async () => {
    const org = await t.organization('AllOrNothing');
    const other = await t.organization('Other');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 999);
    const [theirs] = await entries(other.id, 1, 'theirs');
    await f.grant(org.id, ids.slice(0, 10), workspace.id);
    const before = await levelSet(org.id, workspace.id);
    const withForeign = [...ids.slice(0, 500), theirs!, ...ids.slice(500)];
    const absent = [...ids, '00000000-0000-4000-8000-0000000000ff'];
    const ws = workspaceGid(workspace.id);

    const events = await eventsOf(t, org.id, org.token, async () => {
      for (const mutation of [ENABLE_IDS, DISABLE, REPLACE]) {
        for (const list of [withForeign, absent]) {
          const response = await t.request<any>(mutation, { ids: gids(list), ws }, { token: org.token });
          expect(codes(response)).toEqual(['NOT_FOUND']);
          expect(response.data).toBeNull();
        }
      }
    });
    expect(events).toEqual([]);
    expect(await levelSet(org.id, workspace.id)).toEqual(before);
    expect(await levelSet(other.id, null)).toEqual([]);
    const audit = await f.auditEvents(org.id, 'agent_model_access');
    expect(audit.map((event) => [event.action, event.status, event.errorCode])).toEqual(
      ['create', 'create', 'delete', 'delete', 'update', 'update'].map((action) => [action, 'FAILURE', 'NOT_FOUND']),
    );
  });

  it('a workspace of another organization is NOT_FOUND and touches neither organization', async () => {
    const org = await t.organization('ForeignWorkspace');
    const other = await t.organization('ForeignWorkspaceOwner');
    const theirWorkspace = await f.workspace(other.id);
    const ids = await entries(org.id, 3);
    for (const mutation of [ENABLE_IDS, DISABLE, REPLACE]) {
      const response = await t.request<any>(mutation, { ids: gids(ids), ws: workspaceGid(theirWorkspace.id) }, { token: org.token });
      expect(codes(response)).toEqual(['NOT_FOUND']);
    }
    expect(codes(await t.request<any>(REPLACE, { ids: [], ws: workspaceGid(theirWorkspace.id) }, { token: org.token }))).toEqual(['NOT_FOUND']);
    expect(await f.grantsOf(org.id)).toEqual([]);
    expect(await f.grantsOf(other.id)).toEqual([]);
  });
});

describe('bounds', () => {
  it('takes 5000 ids, refuses 5001 (repeats included) before execution, and none for enable or disable', async () => {
    const org = await t.organization('Bounds');
    const ids = await entries(org.id, 5000);
    const enabled = ok(await t.request<any>(ENABLE_IDS, { ids: gids(ids) }, { token: org.token })).enableModels;
    expect(enabled.createdCount).toBe(5000);
    const replaced = ok(await t.request<any>(REPLACE, { ids: gids(ids.slice(0, 4000)) }, { token: org.token })).replaceModelAccess;
    expect(replaced).toMatchObject({ createdCount: 0, deletedCount: 1000 });
    ok(await t.request<any>(DISABLE, { ids: gids(ids) }, { token: org.token }));

    for (const mutation of [ENABLE_IDS, DISABLE, REPLACE]) {
      for (const list of [[...ids, ids[0]!], Array(5001).fill(ids[0]!)]) {
        const response = await t.request<any>(mutation, { ids: gids(list) }, { token: org.token });
        expect(response.errors?.map((error) => error.extensions)).toEqual([{ code: 'BAD_USER_INPUT', argument: 'input.catalogEntryIds', limit: 5000 }]);
      }
    }
    for (const mutation of [ENABLE_IDS, DISABLE]) {
      const response = await t.request<any>(mutation, { ids: [] }, { token: org.token });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.catalogEntryIds' });
    }
    expect(ok(await t.request<any>(REPLACE, { ids: [] }, { token: org.token })).replaceModelAccess).toEqual({ createdCount: 0, deletedCount: 0, modelAccesses: [] });
    expect(await f.grantsOf(org.id)).toEqual([]);
  });

  it('an id of another type is BAD_USER_INPUT naming its position', async () => {
    const org = await t.organization('WrongType');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 2);
    for (const mutation of [ENABLE_IDS, DISABLE, REPLACE]) {
      for (const wrong of [workspaceGid(workspace.id), ids[1]!, 'not-an-id']) {
        const response = await t.request<any>(mutation, { ids: [catalogGid(ids[0]!), wrong] }, { token: org.token });
        expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.catalogEntryIds[1]' });
      }
      const response = await t.request<any>(mutation, { ids: gids(ids), ws: catalogGid(ids[0]!) }, { token: org.token });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.workspaceId' });
    }
    expect(await f.grantsOf(org.id)).toEqual([]);
  });

  it('costs its number of ids', async () => {
    const org = await t.organization('Cost');
    const ids = await entries(org.id, 4000);
    const twice = `mutation($ids: [ID!]!) { a: enableModels(input: { catalogEntryIds: $ids }) { createdCount } b: disableModels(input: { catalogEntryIds: $ids }) { deletedIds } }`;
    const response = await t.request<any>(twice, { ids: gids(ids) }, { token: org.token });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maximumCost: 6000 });
    expect((response.errors?.[0]?.extensions?.cost as number)).toBeGreaterThanOrEqual(8000);
    expect(await f.grantsOf(org.id)).toEqual([]);
  });
});

describe('disableModels', () => {
  it('removes the grants at one level only and ignores entries without one there', async () => {
    const org = await t.organization('Disable');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 4);
    await f.grant(org.id, ids.slice(0, 3));
    await f.grant(org.id, ids, workspace.id);
    const orgGrants = (await f.grantsOf(org.id)).filter((grant) => grant.workspaceId === null);
    const byCatalog = new Map(orgGrants.map((grant) => [grant.catalogId, grant.id]));

    const removed = await eventsOf(t, org.id, org.token, async () => {
      const response = ok(await t.request<any>(DISABLE, { ids: gids([ids[3]!, ids[1]!, ids[0]!, ids[1]!]) }, { token: org.token })).disableModels;
      expect(response.deletedIds).toEqual([grantGid(byCatalog.get(ids[1]!)!), grantGid(byCatalog.get(ids[0]!)!)]);
    });
    expect(kinds(removed)).toEqual(['MODEL_ACCESS DELETED', 'MODEL_ACCESS DELETED']);
    expect(await levelSet(org.id, null)).toEqual([ids[2]!]);
    expect(await levelSet(org.id, workspace.id)).toEqual([...ids].sort());
    expect(ok(await t.request<any>(DISABLE, { ids: gids([ids[0]!]) }, { token: org.token })).disableModels.deletedIds).toEqual([]);
  });
});

describe('replaceModelAccess', () => {
  it('makes the level exactly the given set; an empty list for a workspace removes its override', async () => {
    const org = await t.organization('Replace');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 5);
    await f.grant(org.id, ids.slice(0, 2));
    const ws = workspaceGid(workspace.id);
    const OVERRIDE = `query($id: ID!) { node(id: $id) { ... on Workspace { hasAccessOverride effectiveModels(first: 10) { edges { node { databaseId } } } } } }`;
    const effective = async () => {
      const node = ok(await t.request<any>(OVERRIDE, { id: ws }, { token: org.token })).node;
      return { override: node.hasAccessOverride, models: node.effectiveModels.edges.map((edge: any) => edge.node.databaseId).sort() };
    };

    const first = ok(await t.request<any>(REPLACE, { ids: gids([ids[4]!, ids[3]!]), ws }, { token: org.token })).replaceModelAccess;
    expect(first).toMatchObject({ createdCount: 2, deletedCount: 0 });
    expect(await effective()).toEqual({ override: true, models: [ids[3]!, ids[4]!].sort() });

    const changes = await eventsOf(t, org.id, org.token, async () => {
      const second = ok(await t.request<any>(REPLACE, { ids: gids([ids[2]!, ids[3]!]), ws }, { token: org.token })).replaceModelAccess;
      expect(second).toMatchObject({ createdCount: 1, deletedCount: 1 });
      expect(second.modelAccesses.map((grant: any) => grant.databaseId)).toEqual(
        (await f.grantsOf(org.id)).filter((grant) => grant.workspaceId === workspace.id)
          .sort((a, b) => ids.indexOf(a.catalogId) - ids.indexOf(b.catalogId)).map((grant) => grant.id),
      );
    });
    expect(kinds(changes).sort()).toEqual(['MODEL_ACCESS CREATED', 'MODEL_ACCESS DELETED']);
    expect(await levelSet(org.id, workspace.id)).toEqual([ids[2]!, ids[3]!].sort());
    expect(await levelSet(org.id, null)).toEqual(ids.slice(0, 2).sort());

    // The same set again changes nothing.
    expect(await eventsOf(t, org.id, org.token, () => t.request<any>(REPLACE, { ids: gids([ids[3]!, ids[2]!]), ws }, { token: org.token }))).toEqual([]);

    ok(await t.request<any>(REPLACE, { ids: [], ws }, { token: org.token }));
    expect(await effective()).toEqual({ override: false, models: ids.slice(0, 2).sort() });

    const organizationLevel = ok(await t.request<any>(REPLACE, { ids: gids([ids[1]!, ids[4]!]) }, { token: org.token })).replaceModelAccess;
    expect(organizationLevel).toMatchObject({ createdCount: 1, deletedCount: 1 });
    expect(await levelSet(org.id, null)).toEqual([ids[1]!, ids[4]!].sort());
  });

  it('under concurrency ends in exactly one caller\'s set, never a mix', async () => {
    const org = await t.organization('Concurrent');
    const workspace = await f.workspace(org.id);
    const ids = await entries(org.id, 40);
    for (const workspaceId of [workspace.id, null]) {
      for (let round = 0; round < 20; round++) {
        const callers = 2 + (round % 3);
        // Overlapping sets of different sizes, so that any mix of two is detectable.
        const sets = Array.from({ length: callers }, (_, caller) => ids.filter((_, index) => (index + round + caller) % (caller + 2) === 0));
        const responses = await Promise.all(
          sets.map((set) => t.request<any>(REPLACE, { ids: gids(set), ws: workspaceId && workspaceGid(workspaceId) }, { token: org.token })),
        );
        for (const response of responses) expect(response.errors).toBeUndefined();
        const final = await levelSet(org.id, workspaceId);
        expect(sets.map((set) => [...set].sort()), `round ${round}`).toContainEqual(final);
      }
    }
  });
});
