import {
  getNamedType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { fixtures, catalogGid, workspaceGid, unique } from './fixtures.ts';
import { servedSchema, validValue } from '../proof/schema-walk.ts';
import { subscribeSse } from '../changes/feed-client.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';

// SPEC §17: a workspace-bound token, through every field it may use and everything
// nested under it, reaches only catalog entries effective in its workspace, and only its
// workspace's and the organization's grants on them. The documents are built from the
// served schema, so a field added later is walked too.

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let org: { id: string; token: string };
let feedStart: string;

/** What a bound token of a workspace may reach: entries, grants and aliases. */
interface Scope {
  id: string;
  token: string;
  effective: Set<string>;
  grants: Set<string>;
  aliases: Set<string>;
}
const scope = (): Scope => ({ id: '', token: '', effective: new Set(), grants: new Set(), aliases: new Set() });
/** The bound workspace W (with grants of its own and an alias overriding the organization's). */
const w = scope();
/** A workspace without grants or aliases of its own: the organization's apply. */
const u = scope();
/**
 * What W must never reach: the provider's other models, another workspace's, the platform
 * entry one of W's inherits from (all of them targets of the aliases), V's alias.
 */
let hidden: Record<string, string> = {};
/** V: another workspace of the organization, with grants, a default and an alias of its own. */
let hiddenWorkspace: { id: string };
/** The name of the organization's alias and of W's and V's overrides; the walk gives it to every `name` argument. */
const ALIAS = 'walk';
/** Database ids of the fixtures, for the assertions on order. */
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestApp({
    RATE_LIMIT_POINTS: '0',
    // The walk selects every nested field at once; the limits are tested elsewhere.
    MAX_QUERY_DEPTH: '100',
    MAX_QUERY_COST: '10000000',
    MAX_QUERY_TOKENS: '1000000',
    MAX_QUERY_ALIASES: '1000',
    RESPONSE_CACHE_MAX_BYTES: '0',
    ...({ MAX_EXPANDED_FIELDS: '1000000' } as object),
  });
  f = fixtures(t);
  org = await t.organization('Bound');
  feedStart = ok(await t.request<any>('{ changeFeedHead }', {}, { token: org.token })).changeFeedHead;

  const name = `vendor-model-${unique()}`;
  const inherited = await f.platformEntry(name);
  const platformGranted = await f.platformEntry(`platform-granted-${unique()}`);
  const provider = await f.customProvider(org.id, { baseUrl: 'http://127.0.0.1:9/v1', secrets: { apiKey: 'sk-bound-walk' } });
  const [c1, c2, c3, c4] = await Promise.all([name, 'c2', 'c3', 'c4'].map((model) => f.customEntry(org.id, provider.id, model)));
  const workspaceW = await f.workspace(org.id, 'W');
  const workspaceU = await f.workspace(org.id, 'U');
  const workspaceV = await f.workspace(org.id, 'V');
  w.id = workspaceW.id;
  u.id = workspaceU.id;
  hiddenWorkspace = workspaceV;

  // Through the API, so that every change makes its event as users' changes do.
  const enable = async (catalogId: string, workspaceId: string | null) =>
    ok(
      await t.request<any>(
        'mutation($c: ID!, $w: ID) { enableModel(input: { catalogEntryId: $c, workspaceId: $w }) { modelAccess { databaseId } } }',
        { c: catalogGid(catalogId), w: workspaceId ? workspaceGid(workspaceId) : null },
        { token: org.token },
      ),
    ).enableModel.modelAccess.databaseId as string;
  const orgGrants = { c1: await enable(c1!.id, null), c2: await enable(c2!.id, null), platform: await enable(platformGranted.id, null) };
  const wGrants = [await enable(c1!.id, w.id), await enable(c3!.id, w.id)];
  await enable(c4!.id, workspaceV.id);
  await enable(c2!.id, workspaceV.id);
  const setDefault = (catalogId: string, workspaceId: string | null) =>
    t.request('mutation($c: ID!, $w: ID) { setDefaultModel(input: { catalogEntryId: $c, workspaceId: $w }) { __typename } }', {
      c: catalogGid(catalogId),
      w: workspaceId ? workspaceGid(workspaceId) : null,
    }, { token: org.token }).then(ok);
  await setDefault(c2!.id, null);
  await setDefault(c3!.id, w.id);
  await setDefault(c4!.id, workspaceV.id);
  ok(await t.request('mutation($id: ID!) { updateCustomProvider(input: { id: $id, displayName: "Renamed" }) { __typename } }', { id: encodeGlobalId('CustomProvider', provider.id) }, { token: org.token }));
  // Aliases whose targets mix entries the workspace may use with those it may not, in an
  // order that is neither the catalog's nor the effective set's.
  const setAlias = async (targets: string[], workspaceId: string | null) =>
    ok(
      await t.request<any>(
        'mutation($alias: String!, $targets: [ID!]!, $in: ID) { setModelAlias(input: { name: $alias, targetIds: $targets, workspaceId: $in }) { modelAlias { databaseId } } }',
        { alias: ALIAS, targets: targets.map(catalogGid), in: workspaceId ? workspaceGid(workspaceId) : null },
        { token: org.token },
      ),
    ).setModelAlias.modelAlias.databaseId as string;
  Object.assign(ids, { c1: c1!.id, c2: c2!.id, c3: c3!.id, c4: c4!.id, inherited: inherited.id, platformGranted: platformGranted.id });
  ids.orgAlias = await setAlias([c2!.id, c1!.id, c4!.id, platformGranted.id, inherited.id, c3!.id], null);
  ids.wAlias = await setAlias([c4!.id, c3!.id, c2!.id, c1!.id], w.id);
  ids.vAlias = await setAlias([c4!.id, c2!.id], workspaceV.id);

  w.effective = new Set([c1!.id, c3!.id]);
  // W's own grants, and the organization's on entries W may use.
  w.grants = new Set([...wGrants, orgGrants.c1]);
  u.effective = new Set([c1!.id, c2!.id, platformGranted.id]);
  u.grants = new Set([orgGrants.c1, orgGrants.c2, orgGrants.platform]);
  // The organization's alias reaches W only as the subject of its event: W's own overrides it.
  w.aliases = new Set([ids.wAlias, ids.orgAlias]);
  u.aliases = new Set([ids.orgAlias]);
  hidden = { c2: c2!.id, c4: c4!.id, inherited: inherited.id, vAlias: ids.vAlias };
  const scopes = ['agent:read', 'agent:credentials:read'];
  w.token = await t.token({ organizationId: org.id, workspaceId: w.id, scopes });
  u.token = await t.token({ organizationId: org.id, workspaceId: u.id, scopes });
});
afterAll(() => t.close());

// ---------------------------------------------------------------- the documents

/** What the walk gives the arguments it knows: the token's workspace (an optional workspaceId may be left out) and one of its entries. */
interface Bound {
  workspace: string;
  entry: string;
  omitOptionalWorkspace?: boolean;
}

const PAGE = 10;
const ROOT_PAGE = 100;

/** Values for the arguments the walk knows, for a root field asked as `bound` (its token's workspace and one of its entries). */
function argumentsOf(field: GraphQLField<unknown, unknown>, root: boolean, bound: Bound): string {
  const given: string[] = [];
  for (const arg of field.args as readonly GraphQLArgument[]) {
    let value: unknown;
    if (arg.name === 'first') value = root ? ROOT_PAGE : PAGE;
    else if (arg.name === 'workspaceId') value = bound.omitOptionalWorkspace && !isNonNullType(arg.type) ? undefined : bound.workspace;
    else if (arg.name === 'catalogEntryId') value = bound.entry;
    else if (arg.name === 'name') value = ALIAS;
    else if (isNonNullType(arg.type)) value = validValue(arg.type, () => bound.entry, [arg.name]);
    // The feed from before the fixtures: the subscription resumes from $after, the query pages from there.
    if (arg.name === 'after' && root && field.name === 'changes') given.push('after: $after');
    else if (arg.name === 'after' && root && field.name === 'changeEvents') given.push(`after: ${JSON.stringify(feedStart)}`);
    else if (value !== undefined) given.push(`${arg.name}: ${JSON.stringify(value).replace(/"([A-Za-z_]\w*)":/g, '$1:')}`);
  }
  return given.length ? `(${given.join(', ')})` : '';
}

/**
 * Every field below `type`, each object-valued field followed once per path (so a cycle,
 * CatalogEntry → customProvider → models → CatalogEntry, is followed once), with
 * `__typename`, `databaseId` and `totalCount` wherever they exist.
 */
function selectionOf(type: GraphQLNamedType, followed: ReadonlySet<string>, bound: Bound): string {
  if (isLeafType(type)) return '';
  if (isUnionType(type) || isInterfaceType(type)) {
    const possible = servedSchema.getPossibleTypes(type);
    return `{ __typename ${possible.map((member) => `... on ${member.name} ${selectionOf(member, followed, bound)}`).join(' ')} }`;
  }
  const object = type as GraphQLObjectType;
  const parts = ['__typename'];
  for (const field of Object.values(object.getFields())) {
    const named = getNamedType(field.type);
    if (isLeafType(named)) {
      if (['databaseId', 'totalCount', 'workspaceId', 'catalogEntryId'].includes(field.name)) parts.push(field.name);
      continue;
    }
    const edge = `${object.name}.${field.name}`;
    if (followed.has(edge)) continue;
    const inner = selectionOf(named, new Set([...followed, edge]), bound);
    parts.push(`${field.name}${argumentsOf(field, false, bound)} ${inner}`);
  }
  return `{ ${parts.join(' ')} }`;
}

function documentFor(kind: 'query' | 'subscription', field: GraphQLField<unknown, unknown>, bound: Bound): string {
  const named = getNamedType(field.type);
  // A subscription resumes from the cursor given as $after.
  return `${kind}${kind === 'subscription' ? '($after: String)' : ''} { ${field.name}${argumentsOf(field, true, bound)} ${selectionOf(named, new Set(), bound)} }`;
}

// ---------------------------------------------------------------- what an answer reaches

interface Reached {
  /**
   * typename → databaseIds met, through which field (`via`) and the fields above it
   * (`path`, from the root), with the workspace they say they belong to.
   */
  objects: {
    typename: string;
    databaseId: string | undefined;
    via: string;
    path: string[];
    workspaceId?: string | null;
    totalCount?: number;
    edges?: number;
  }[];
}

function reached(data: unknown): Reached {
  const objects: Reached['objects'] = [];
  const visit = (value: unknown, via: string, path: string[]) => {
    if (Array.isArray(value)) return value.forEach((item) => visit(item, via, path));
    if (!value || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    const typename = record.__typename as string | undefined;
    if (typename) {
      objects.push({
        typename,
        databaseId: record.databaseId as string | undefined,
        via,
        path,
        ...('workspaceId' in record ? { workspaceId: record.workspaceId as string | null } : {}),
        ...(typeof record.totalCount === 'number' ? { totalCount: record.totalCount, edges: (record.edges as unknown[] | undefined)?.length } : {}),
      });
    }
    for (const [key, inner] of Object.entries(record)) {
      if (key === '__typename') continue;
      const edge = typename && key !== 'edges' && key !== 'node' ? `${typename}.${key}` : via;
      visit(inner, edge, edge === via ? path : [...path, edge]);
    }
  };
  visit(data, 'root', []);
  return { objects };
}

/** What a bound token of `scope` may not reach, one line per object. */
function violations(found: Reached, scope: Scope, workspaceId: string): string[] {
  const wrong: string[] = [];
  for (const object of found.objects) {
    const at = `${object.typename} ${object.databaseId ?? ''} via ${object.via}`;
    // SPEC §18: `skipped` lists the targets the workspace may not use — the spec's answer to
    // a runtime, so the entries themselves are exempt; what is nested below them is not.
    const skippedTarget = object.via === 'ResolvedModelRoute.skipped';
    if (object.typename === 'CatalogEntry' && !skippedTarget && !scope.effective.has(object.databaseId!)) wrong.push(at);
    if (object.typename === 'ModelAccess' && !scope.grants.has(object.databaseId!)) wrong.push(at);
    if (object.typename === 'ModelAlias' && !scope.aliases.has(object.databaseId!)) wrong.push(at);
    if (object.typename === 'Workspace' && object.databaseId !== workspaceId) wrong.push(at);
    if (object.typename === 'Organization' && object.databaseId !== org.id) wrong.push(at);
    // An event, grant or alias of another workspace (a change event's says so by global id).
    if (object.workspaceId != null && ![workspaceId, workspaceGid(workspaceId)].includes(object.workspaceId)) {
      wrong.push(`${at}: of workspace ${object.workspaceId}`);
    }
    // A connection counts what it lists: a page of 10 or 100 holds every row of these fixtures.
    if (object.totalCount !== undefined && object.edges !== undefined && object.totalCount !== object.edges) wrong.push(`${at}: totalCount ${object.totalCount}, ${object.edges} listed`);
  }
  return wrong;
}

const BOUND_ROOTS = ['viewer', 'workspaceModels', 'defaultModelSelection', 'resolvedModelConfig', 'changeEvents', 'changeFeedHead', 'modelAliases', 'resolveModelAlias'];

/** Every query root field: its answer to the bound token, or null when bound tokens may not use it. */
async function walkQueries(scope: Scope, token: string) {
  const bound: Bound = { workspace: workspaceGid(scope.id), entry: catalogGid([...scope.effective][0]!) };
  const answers = new Map<string, { data: unknown; errors: unknown }>();
  for (const field of Object.values(servedSchema.getQueryType()!.getFields())) {
    // A bound token's own workspace is meant when an optional workspaceId is left out.
    const optionalWorkspace = field.args.some((arg) => arg.name === 'workspaceId' && !isNonNullType(arg.type));
    for (const variant of optionalWorkspace ? [bound, { ...bound, omitOptionalWorkspace: true }] : [bound]) {
      const response = await t.request<any>(documentFor('query', field, variant), {}, { token });
      const refused = response.errors?.some((error) => /workspace-bound token cannot use/.test(error.message));
      if (refused && token !== org.token) continue;
      answers.set(variant.omitOptionalWorkspace ? `${field.name} (workspaceId left out)` : field.name, { data: response.data, errors: response.errors });
    }
  }
  return answers;
}

describe('a workspace-bound token, all the way down', () => {
  for (const [label, scope] of [['with grants of its own', w], ['without (the organization set)', u]] as const) {
    it(`reaches only its workspace's effective entries and grants through every query field (${label})`, async () => {
      const answers = await walkQueries(scope, scope.token);
      expect([...answers.keys()]).toEqual(expect.arrayContaining([...BOUND_ROOTS, 'defaultModelSelection (workspaceId left out)', 'resolvedModelConfig (workspaceId left out)']));
      for (const [name, answer] of answers) {
        expect(answer.errors, name).toBeUndefined();
        expect(violations(reached(answer.data), scope, scope.id), name).toEqual([]);
      }
      // The walk went where a leak would show.
      const vias = new Set([...answers.values()].flatMap((answer) => reached(answer.data).objects.filter((o) => o.typename === 'CatalogEntry').map((o) => o.via)));
      expect([...vias]).toEqual(expect.arrayContaining(['CustomProvider.models', 'DefaultModelSelection.catalogEntry', 'ResolvedModelConfig.catalogEntry', 'ChangeEvent.subject', 'ModelAccess.catalogEntry', 'ModelAlias.targets']));
      // And where aliases lead: each root's entries and aliases, through which field.
      const under = (root: string, typename: string) => reached(answers.get(root)!.data).objects.filter((o) => o.typename === typename);
      const viasUnder = (root: string, typename: string) => [...new Set(under(root, typename).map((o) => o.via))];
      expect(viasUnder('resolveModelAlias', 'CatalogEntry')).toEqual(
        expect.arrayContaining(['ResolvedModelConfig.catalogEntry', 'ModelAlias.targets', 'ResolvedModelRoute.skipped', 'CustomProvider.models']),
      );
      // Below a skipped target the rule holds again: its provider's models are walked.
      expect(under('resolveModelAlias', 'CatalogEntry').some((o) => o.via === 'CustomProvider.models' && o.path.includes('ResolvedModelRoute.skipped'))).toBe(true);
      for (const root of ['modelAliases', 'modelAliases (workspaceId left out)']) {
        expect(viasUnder(root, 'CatalogEntry'), root).toEqual(expect.arrayContaining(['ModelAlias.targets']));
        // Only W has an alias of its own, whose workspace is shown.
        if (scope === w) expect(viasUnder(root, 'Workspace'), root).toEqual(expect.arrayContaining(['ModelAlias.workspace']));
      }
      expect(viasUnder('changeEvents', 'ModelAlias')).toEqual(expect.arrayContaining(['ChangeEvent.subject']));
    });
  }

  it('the same walk with an organization token does reach what the bound token may not (the walk can fail)', async () => {
    const answers = await walkQueries(w, org.token);
    const wrong = [...answers.values()].flatMap((answer) => violations(reached(answer.data), w, w.id));
    for (const id of Object.values(hidden)) expect(wrong.some((line) => line.includes(id)), id).toBe(true);
    expect(wrong.some((line) => line.includes('via CustomProvider.models'))).toBe(true);
    expect(wrong.some((line) => line.includes('via CatalogEntry.inheritsFrom'))).toBe(true);
    expect(wrong.some((line) => line.includes('via ChangeEvent.subject'))).toBe(true);
    expect(wrong.some((line) => line.includes('via ModelAlias.targets'))).toBe(true);
    expect(wrong.some((line) => line.includes(`ModelAlias ${ids.vAlias} via ChangeEvent.subject`))).toBe(true);
    expect(wrong.some((line) => line.includes(`of workspace ${workspaceGid(hiddenWorkspace.id)}`))).toBe(true);
  });

  it("lists an alias's targets effective in its workspace in order, and skipped the rest in order (SPEC §17, §18)", async () => {
    const document = `query Route($alias: String!) {
      resolveModelAlias(name: $alias) {
        alias { databaseId targets { databaseId } }
        configs { catalogEntry { databaseId } }
        skipped { databaseId }
      }
      modelAliases { edges { node { databaseId level workspace { databaseId } targets { databaseId } } } }
    }`;
    const route = async (token: string) => {
      const data = ok(await t.request<any>(document, { alias: ALIAS }, { token }));
      const names = (list: { databaseId: string }[]) => list.map((entry) => Object.keys(ids).find((key) => ids[key] === entry.databaseId));
      const resolved = data.resolveModelAlias;
      return {
        alias: names([resolved.alias])[0],
        targets: names(resolved.alias.targets),
        configs: names(resolved.configs.map((config: any) => config.catalogEntry)),
        skipped: names(resolved.skipped),
        aliases: data.modelAliases.edges.map(({ node }: any) => ({ alias: names([node])[0], level: node.level, workspace: node.workspace?.databaseId ?? null, targets: names(node.targets) })),
      };
    };
    // W's own alias overrides the organization's; c4 is V's, c2 the organization's that W's grants replace.
    expect(await route(w.token)).toEqual({
      alias: 'wAlias',
      targets: ['c3', 'c1'],
      configs: ['c3', 'c1'],
      skipped: ['c4', 'c2'],
      aliases: [{ alias: 'wAlias', level: 'WORKSPACE', workspace: w.id, targets: ['c3', 'c1'] }],
    });
    expect(await route(u.token)).toEqual({
      alias: 'orgAlias',
      targets: ['c2', 'c1', 'platformGranted'],
      configs: ['c2', 'c1', 'platformGranted'],
      skipped: ['c4', 'inherited', 'c3'],
      aliases: [{ alias: 'orgAlias', level: 'ORGANIZATION', workspace: null, targets: ['c2', 'c1', 'platformGranted'] }],
    });
    // An organization's token sees every target, whichever workspace it resolves for.
    const all = ok(await t.request<any>('query($alias: String!, $in: ID) { resolveModelAlias(name: $alias, workspaceId: $in) { alias { targets { databaseId } } } }', { alias: ALIAS, in: workspaceGid(w.id) }, { token: org.token }));
    expect(all.resolveModelAlias.alias.targets.map((entry: any) => entry.databaseId)).toEqual([ids.c4, ids.c3, ids.c2, ids.c1]);
  });

  it("delivers no event of another workspace's alias to a bound token, and no alias as a subject but its own and the organization's", async () => {
    const events = `query Events($from: String) { changeEvents(first: 100, after: $from, filter: { subjectTypes: [MODEL_ALIAS] }) { edges { node { action workspaceId subject { ... on ModelAlias { databaseId } } } } } }`;
    const seen = async (token: string) =>
      ok(await t.request<any>(events, { from: feedStart }, { token })).changeEvents.edges.map(({ node }: any) => [node.action, node.workspaceId, node.subject?.databaseId ?? null]);
    expect(await seen(org.token)).toEqual([
      ['CREATED', null, ids.orgAlias],
      ['CREATED', workspaceGid(w.id), ids.wAlias],
      ['CREATED', workspaceGid(hiddenWorkspace.id), ids.vAlias],
    ]);
    expect(await seen(w.token)).toEqual([
      ['CREATED', null, ids.orgAlias],
      ['CREATED', workspaceGid(w.id), ids.wAlias],
    ]);
    expect(await seen(u.token)).toEqual([['CREATED', null, ids.orgAlias]]);
  });

  it('reaches only its own through every subscription field, replayed from before the fixtures over SSE', async () => {
    const expected = ok(await t.request<any>(`{ changeEvents(first: 100, after: ${JSON.stringify(feedStart)}) { edges { cursor } } }`, {}, { token: w.token })).changeEvents.edges.length;
    expect(expected).toBeGreaterThan(5);
    for (const field of Object.values(servedSchema.getSubscriptionType()!.getFields())) {
      const bound: Bound = { workspace: workspaceGid(w.id), entry: catalogGid([...w.effective][0]!) };
      const subscription = subscribeSse(t, w.token, { query: documentFor('subscription', field, bound), after: feedStart });
      try {
        const events = await subscription.waitFor(expected);
        expect(subscription.errors, field.name).toEqual([]);
        const found = reached(events);
        expect(violations(found, w, w.id), field.name).toEqual([]);
        expect(found.objects.some((object) => object.typename === 'CatalogEntry' && object.via === 'CustomProvider.models'), field.name).toBe(true);
      } finally {
        subscription.close();
      }
    }
  });
});
