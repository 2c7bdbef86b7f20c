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

/** The bound workspace W (with grants of its own) and what it may see. */
const w = { id: '', token: '', effective: new Set<string>(), grants: new Set<string>() };
/** A workspace without grants of its own: the organization's set applies. */
const u = { id: '', token: '', effective: new Set<string>(), grants: new Set<string>() };
/** Entries W must never reach: the provider's other models, another workspace's, the platform entry one of W's inherits from. */
let hidden: Record<string, string> = {};

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

  w.effective = new Set([c1!.id, c3!.id]);
  // W's own grants, and the organization's on entries W may use.
  w.grants = new Set([...wGrants, orgGrants.c1]);
  u.effective = new Set([c1!.id, c2!.id, platformGranted.id]);
  u.grants = new Set([orgGrants.c1, orgGrants.c2, orgGrants.platform]);
  hidden = { c2: c2!.id, c4: c4!.id, inherited: inherited.id };
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
    else if (isNonNullType(arg.type)) value = validValue(arg.type, () => bound.entry, [arg.name]);
    if (arg.name === 'after' && root && field.name === 'changes') given.push('after: $after');
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
  /** typename → databaseIds met, and through which field. */
  objects: { typename: string; databaseId: string | undefined; via: string; totalCount?: number; edges?: number }[];
}

function reached(data: unknown): Reached {
  const objects: Reached['objects'] = [];
  const visit = (value: unknown, via: string) => {
    if (Array.isArray(value)) return value.forEach((item) => visit(item, via));
    if (!value || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    const typename = record.__typename as string | undefined;
    if (typename) {
      objects.push({
        typename,
        databaseId: record.databaseId as string | undefined,
        via,
        ...(typeof record.totalCount === 'number' ? { totalCount: record.totalCount, edges: (record.edges as unknown[] | undefined)?.length } : {}),
      });
    }
    for (const [key, inner] of Object.entries(record)) if (key !== '__typename') visit(inner, typename && key !== 'edges' && key !== 'node' ? `${typename}.${key}` : via);
  };
  visit(data, 'root');
  return { objects };
}

/** What a bound token of `scope` may not reach, one line per object. */
function violations(found: Reached, scope: typeof w, workspaceId: string): string[] {
  const wrong: string[] = [];
  for (const object of found.objects) {
    const at = `${object.typename} ${object.databaseId ?? ''} via ${object.via}`;
    if (object.typename === 'CatalogEntry' && !scope.effective.has(object.databaseId!)) wrong.push(at);
    if (object.typename === 'ModelAccess' && !scope.grants.has(object.databaseId!)) wrong.push(at);
    if (object.typename === 'Workspace' && object.databaseId !== workspaceId) wrong.push(at);
    if (object.typename === 'Organization' && object.databaseId !== org.id) wrong.push(at);
    // A connection counts what it lists: a page of 10 or 100 holds every row of these fixtures.
    if (object.totalCount !== undefined && object.edges !== undefined && object.totalCount !== object.edges) wrong.push(`${at}: totalCount ${object.totalCount}, ${object.edges} listed`);
  }
  return wrong;
}

const BOUND_ROOTS = ['viewer', 'workspaceModels', 'defaultModelSelection', 'resolvedModelConfig', 'changeEvents', 'changeFeedHead'];

/** Every query root field: its answer to the bound token, or null when bound tokens may not use it. */
async function walkQueries(scope: typeof w, token: string) {
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
      expect([...vias]).toEqual(expect.arrayContaining(['CustomProvider.models', 'DefaultModelSelection.catalogEntry', 'ResolvedModelConfig.catalogEntry', 'ChangeEvent.subject', 'ModelAccess.catalogEntry']));
    });
  }

  it('the same walk with an organization token does reach what the bound token may not (the walk can fail)', async () => {
    const answers = await walkQueries(w, org.token);
    const wrong = [...answers.values()].flatMap((answer) => violations(reached(answer.data), w, w.id));
    for (const id of Object.values(hidden)) expect(wrong.some((line) => line.includes(id)), id).toBe(true);
    expect(wrong.some((line) => line.includes('via CustomProvider.models'))).toBe(true);
    expect(wrong.some((line) => line.includes('via CatalogEntry.inheritsFrom'))).toBe(true);
    expect(wrong.some((line) => line.includes('via ChangeEvent.subject'))).toBe(true);
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
