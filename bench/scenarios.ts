/**
 * The benchmark scenarios, as data: each names the schema fields it needs from the
 * service and, per target, how to build its load plan. A scenario whose fields the
 * running service does not have is reported as skipped, so the harness runs today
 * against the foundation and picks the catalog/access scenarios up once they exist.
 */
import type { Dataset } from './dataset.ts';
import type { LoadPlan } from './load.ts';
import type { TargetName } from './options.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are walked dynamically */
type Json = any;

export interface TargetClient {
  name: TargetName;
  /** The GraphQL endpoint. */
  url: string;
  headers: Record<string, string>;
  post(body: string): Promise<{ status: number; text: string }>;
}

export interface PlanContext {
  target: TargetClient;
  dataset: Dataset;
}

export interface PreparedPlan extends LoadPlan {
  /** The requests of the pre-flight pass, when they are not the load's steps. */
  preflight?: LoadPlan['steps'];
  /** Full check of the parsed answers of one pre-flight pass over the steps. */
  validate(answers: Json[]): string | null;
  /** Normalized content of the answer, compared across targets (same rows, same flags). */
  digest?(answers: Json[]): string;
}

export interface Scenario {
  id: string;
  title: string;
  /** What one measured "request" is, when it is not a single query. */
  unit?: string;
  /** Root fields ('Query.x' / 'Mutation.y') the service must have. */
  requires: string[];
  /** How each target answers it; targets without an entry do not run it. */
  targets: Partial<Record<TargetName, (ctx: PlanContext) => Promise<PreparedPlan>>>;
  /**
   * SQL run directly (as the bench's administrative user, not counted) after each
   * pre-flight and load run: a time-bounded run stops sequences midway, so a create
   * may have no matching delete. Leaves the dataset as seeded.
   */
  cleanup?: (dataset: Dataset) => { text: string; values: unknown[] }[];
}

/** The service's global IDs: base64url of `Type:uuid` (src/builder.ts). */
export function globalId(typename: string, id: string): string {
  return Buffer.from(`${typename}:${id}`, 'utf8').toString('base64url');
}

export function requestBody(query: string, variables: Record<string, unknown>, operationName: string): string {
  return JSON.stringify({ query, variables, operationName });
}

/** The cheap per-response check used under load (no JSON parse of large bodies). */
export function answerCheck(status: number, body: string): string | null {
  if (status !== 200) return `HTTP ${status}: ${body.slice(0, 300)}`;
  if (body.includes('"errors":[') || body.includes('"errors": [')) return `GraphQL errors: ${body.slice(0, 300)}`;
  return null;
}

function errorsOf(answer: Json): string | null {
  if (answer?.errors?.length) {
    const e = answer.errors[0];
    return `${e.extensions?.code ?? 'ERROR'}: ${e.message}`;
  }
  return null;
}

function expectEdges(answer: Json, path: string[], expected: number | 'some'): string | null {
  const error = errorsOf(answer);
  if (error) return error;
  let value = answer?.data;
  for (const key of path) value = value?.[key];
  const edges = value?.edges;
  if (!Array.isArray(edges)) return `no ${path.join('.')}.edges in the answer`;
  if (expected === 'some' ? edges.length === 0 : edges.length !== expected) {
    return `expected ${expected} edges in ${path.join('.')}, got ${edges.length}`;
  }
  return null;
}

// ---------------------------------------------------------------- documents

const OURS_Q0 = /* GraphQL */ `query Q0($first: Int!) { workspaces(first: $first) { edges { node { id name } } } }`;

const OURS_CATALOG_PAGE = /* GraphQL */ `query Q1($first: Int!, $after: String) {
  catalogEntries(first: $first, after: $after) {
    edges {
      cursor
      node {
        id databaseId modelProvider modelName displayName origin createdAt
        customProvider { displayName }
        enabledForOrganization
        capabilities
        limits { maxInputTokens maxOutputTokens }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

const OURS_WORKSPACE_MODELS = /* GraphQL */ `query Q2($workspaceId: ID!, $first: Int!) {
  workspaceModels(workspaceId: $workspaceId, first: $first) {
    edges {
      cursor
      node {
        id databaseId modelProvider modelName displayName origin
        customProvider { displayName }
        capabilities
        limits { maxInputTokens maxOutputTokens }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

const OURS_ENABLE = /* GraphQL */ `mutation M1Enable($input: EnableModelInput!) {
  enableModel(input: $input) { modelAccess { id level } }
}`;

const OURS_DISABLE = /* GraphQL */ `mutation M1Disable($input: DisableModelInput!) {
  disableModel(input: $input) { deletedId }
}`;

const OURS_CREATE_WORKSPACE = /* GraphQL */ `mutation M0Create($input: CreateWorkspaceInput!) {
  createWorkspace(input: $input) { workspace { id name } }
}`;

const OURS_DELETE_WORKSPACE = /* GraphQL */ `mutation M0Delete($input: DeleteWorkspaceInput!) {
  deleteWorkspace(input: $input) { deletedId }
}`;

const OURS_RESOLVE_ALIAS = /* GraphQL */ `query A1($name: String!, $workspaceId: ID) {
  resolveModelAlias(name: $name, workspaceId: $workspaceId) {
    alias { id name level }
    configs { catalogEntry { id } modelProvider modelName baseUrl passthrough apiKeyHeader apiKey customHeaders { name value } }
    skipped { id modelName }
  }
}`;

const PGL_Q0 = /* GraphQL */ `query Q0($first: Int!) {
  allWorkspaces(first: $first, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { edges { node { id name } } }
}`;

/**
 * PostGraphile's equivalent of Q1: the same rows in the same order, the custom
 * provider's name through the composite foreign key, capabilities and limits from
 * the table's generated columns, and "enabled for the organization" as
 * the first organization-level grant of the entry: a nested connection filtered to
 * workspace_id IS NULL (row-level security limits it to the caller's organization).
 * PostGraphile inlines it into the page's single SQL statement.
 */
const PGL_CATALOG_PAGE = /* GraphQL */ `query Q1($first: Int!, $after: Cursor) {
  allAgentCatalogs(first: $first, after: $after, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    edges {
      cursor
      node {
        id rowId modelProvider modelName displayName organizationId customProviderId createdAt
        capabilities maxInputTokens maxOutputTokens
        agentCustomProviderByOrganizationIdAndCustomProviderId { displayName }
        orgGrant: agentModelAccessesByCatalogId(condition: { workspaceId: null }, first: 1) { nodes { rowId } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** Q1v: Q1's selection with a page size, a cursor and a filter that change with every request. */
const OURS_CATALOG_VARIED = OURS_CATALOG_PAGE.replace('query Q1($first: Int!, $after: String)', 'query Q1v($first: Int!, $after: String, $filter: CatalogEntryFilter)')
  .replace('catalogEntries(first: $first, after: $after)', 'catalogEntries(first: $first, after: $after, filter: $filter)');
const PGL_CATALOG_VARIED = PGL_CATALOG_PAGE.replace('query Q1($first: Int!, $after: Cursor)', 'query Q1v($first: Int!, $after: Cursor, $filter: AgentCatalogFilter)')
  .replace('allAgentCatalogs(first: $first, after: $after,', 'allAgentCatalogs(first: $first, after: $after, filter: $filter,');

// The hand-written baseline ignores the document and dispatches on operationName.
const HANDWRITTEN_Q0 = '# answered by operationName Q0';
const HANDWRITTEN_CATALOG_PAGE = '# answered by operationName Q1';

// ---------------------------------------------------------------- normalization

interface CatalogRowDigest {
  id: string;
  enabled: boolean;
  provider: string;
  capabilities: string;
  maxInputTokens: string;
}

function digestRows(rows: CatalogRowDigest[]): string {
  return rows.map((r) => `${r.id}|${r.enabled}|${r.provider}|${r.capabilities}|${r.maxInputTokens}`).join('\n');
}

function oursCatalogDigest(answer: Json, field = 'catalogEntries'): string {
  return digestRows(
    (answer.data[field].edges as Json[]).map(({ node }) => ({
      id: node.databaseId,
      enabled: node.enabledForOrganization,
      provider: node.customProvider?.displayName ?? '',
      capabilities: [...node.capabilities].sort().join(','),
      maxInputTokens: String(node.limits?.maxInputTokens ?? ''),
    })),
  );
}

function pglCatalogDigest(answer: Json): string {
  return digestRows(
    (answer.data.allAgentCatalogs.edges as Json[]).map(({ node }) => ({
      id: node.rowId,
      enabled: node.orgGrant.nodes.length > 0,
      provider: node.agentCustomProviderByOrganizationIdAndCustomProviderId?.displayName ?? '',
      capabilities: [...node.capabilities].sort().join(','),
      maxInputTokens: String(node.maxInputTokens ?? ''),
    })),
  );
}

function workspaceNamesDigest(answer: Json, path: string[]): string {
  let value = answer.data;
  for (const key of path) value = value[key];
  return (value.edges as Json[]).map((e) => e.node.name as string).sort().join(',');
}

// ---------------------------------------------------------------- plans

function singleQuery(body: string, expect: (answer: Json) => string | null, digest?: (answer: Json) => string): PreparedPlan {
  return {
    steps: [{ body }],
    check: answerCheck,
    validate: (answers) => expect(answers[0]),
    ...(digest ? { digest: (answers: Json[]) => digest(answers[0]) } : {}),
  };
}

/**
 * Pages forward `rows` rows with pages of 100 (the largest allowed) through the
 * target's own API and returns the cursor there. Bounded: at most rows/100 requests
 * and two minutes.
 */
async function cursorAfter(
  target: TargetClient,
  rows: number,
  page: (after: string | null) => string,
  read: (answer: Json) => { count: number; endCursor: string | null; hasNextPage: boolean },
): Promise<string> {
  const deadline = Date.now() + 120_000;
  let after: string | null = null;
  let seen = 0;
  while (seen < rows) {
    if (Date.now() > deadline) throw new Error(`paging to row ${rows} took over two minutes`);
    const { status, text } = await target.post(page(after));
    const answer = JSON.parse(text) as Json;
    const error = errorsOf(answer);
    if (status !== 200 || error) throw new Error(`paging failed at row ${seen}: ${error ?? `HTTP ${status}`}`);
    const { count, endCursor, hasNextPage } = read(answer);
    seen += count;
    if (!endCursor || (!hasNextPage && seen < rows)) throw new Error(`only ${seen} rows visible; cannot start ${rows} deep`);
    after = endCursor;
  }
  return after!;
}

const DEEP_OFFSET = 10_000;
const PAGE = 50;

/**
 * A catalog page plan for one target: its document, the root field of its answer and
 * how to digest the page; `deep` first pages DEEP_OFFSET rows in to get the cursor.
 */
function catalogPlan(document: string, root: string, digest: (answer: any) => string) {
  return (deep: boolean) =>
    async ({ target }: PlanContext): Promise<PreparedPlan> => {
      const after = deep
        ? await cursorAfter(
            target,
            DEEP_OFFSET,
            (a) => requestBody(document, { first: 100, after: a }, 'Q1'),
            (answer) => ({
              count: answer.data[root].edges.length,
              endCursor: answer.data[root].pageInfo.endCursor,
              hasNextPage: answer.data[root].pageInfo.hasNextPage,
            }),
          )
        : null;
      return singleQuery(
        requestBody(document, { first: PAGE, after }, 'Q1'),
        (answer) => expectEdges(answer, [root], PAGE),
        digest,
      );
    };
}

const oursCatalogPlan = catalogPlan(OURS_CATALOG_PAGE, 'catalogEntries', (answer) => oursCatalogDigest(answer));
const pglCatalogPlan = catalogPlan(PGL_CATALOG_PAGE, 'allAgentCatalogs', pglCatalogDigest);
const handwrittenCatalogPlan = catalogPlan(HANDWRITTEN_CATALOG_PAGE, 'catalogEntries', (answer) => oursCatalogDigest(answer));

/**
 * Q1v: a different question with every request. Request i asks a page of 20–50 rows,
 * under one of 15 filters (none, a provider, capabilities, both), after one of the first
 * 2 000 rows (or from the start), taken from i in mixed radix, the size changing fastest
 * and the depth slowest: no two of the first 930 000 requests are the same, so no cache
 * can answer one from an earlier one, and every 465 requests ask each filter at each
 * size. Each target pages the catalog once with its own API to learn its cursors for
 * those rows.
 */
const VARIED_SIZES = 31;
const VARIED_DEPTH = 2_000;
const VARIED_FILTERS: { provider?: string; capabilities?: string[] }[] = [
  {},
  ...['openai', 'anthropic', 'gemini', 'mistral', 'bedrock', 'azure_openai', 'vertex_ai', 'custom-model-provider'].map((provider) => ({ provider })),
  { capabilities: ['vision'] },
  { capabilities: ['function_calling'] },
  { capabilities: ['reasoning'] },
  { capabilities: ['vision', 'function_calling'] },
  { provider: 'bedrock', capabilities: ['vision'] },
  { provider: 'custom-model-provider', capabilities: ['reasoning'] },
];

function variedPlan(options: {
  document: string;
  root: string;
  filter: (filter: { provider?: string; capabilities?: string[] }) => Record<string, unknown> | null;
  digest: (answer: Json) => string;
}) {
  return async ({ target }: PlanContext): Promise<PreparedPlan> => {
    // Cursors after each of the first VARIED_DEPTH rows, in the target's own format.
    const cursors: (string | null)[] = [null];
    let after: string | null = null;
    while (cursors.length <= VARIED_DEPTH) {
      const { status, text } = await target.post(requestBody(options.document, { first: 100, after, filter: null }, 'Q1v'));
      const answer = JSON.parse(text) as Json;
      const error = errorsOf(answer);
      if (status !== 200 || error) throw new Error(`paging for cursors failed: ${error ?? `HTTP ${status}`}`);
      const connection = answer.data[options.root];
      for (const edge of connection.edges) cursors.push(edge.cursor as string);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    const depths = Math.min(cursors.length, VARIED_DEPTH + 1);
    const body = (i: number) => {
      const size = 20 + (i % VARIED_SIZES);
      const rest = Math.floor(i / VARIED_SIZES);
      const filter = VARIED_FILTERS[rest % VARIED_FILTERS.length]!;
      // Depths visited in a scattered order: 997 is prime to every depth count here.
      const depth = ((Math.floor(rest / VARIED_FILTERS.length) % depths) * 997) % depths;
      return requestBody(options.document, { first: size, after: cursors[depth], filter: options.filter(filter) }, 'Q1v');
    };
    let next = 0;
    // Pre-flight: a spread of the questions (the first page, providers, capabilities, both, deep), compared across targets.
    const sample = [0, 1, 37, 1_000, 31 * 9 + 5, 465 * 9 + 31 * 13 + 7, 465 * 700 + 31 * 14 + 3];
    return {
      steps: [{ body: () => body(next++) }],
      preflight: sample.map((i) => ({ body: body(i) })),
      check: answerCheck,
      validate: (answers) => answers.map((answer) => errorsOf(answer) ?? expectEdges(answer, [options.root], 'some')).find(Boolean) ?? null,
      digest: (answers) => answers.map(options.digest).join('\n--\n'),
    };
  };
}

function workspaceModelsPlan(which: 'override' | 'inherit') {
  return async ({ dataset }: PlanContext): Promise<PreparedPlan> =>
    singleQuery(
      requestBody(OURS_WORKSPACE_MODELS, { workspaceId: globalId('Workspace', dataset.workspaces[which]), first: PAGE }, 'Q2'),
      (answer) => expectEdges(answer, ['workspaceModels'], PAGE),
      (answer) => oursCatalogDigest(answer, 'workspaceModels').split('\n').map((l) => l.split('|')[0]).join('\n'),
    );
}

/**
 * A create-then-delete pair as one autocannon request sequence per connection: the
 * created object's global ID is read from the first answer and carried to the second
 * request through the sequence's context. Without an id (the create failed) the delete
 * is sent anyway and fails too, so the failure shows in the count of bad answers
 * instead of stalling the sequence.
 */
function pairPlan(options: {
  create: { document: string; operationName: string; variables: () => Record<string, unknown>; idPath: string[] };
  remove: { document: string; operationName: string; resultPath: string[] };
}): PreparedPlan {
  const { create, remove } = options;
  const dig = (value: Json, path: string[]) => path.reduce((v, key) => v?.[key], value);
  return {
    steps: [
      {
        body: () => requestBody(create.document, create.variables(), create.operationName),
        onBody: (body, context) => {
          try {
            context.createdId = dig(JSON.parse(body) as Json, ['data', ...create.idPath]);
          } catch {
            context.createdId = undefined;
          }
        },
      },
      {
        body: (context) =>
          requestBody(remove.document, { input: { id: (context.createdId as string | undefined) ?? 'missing' } }, remove.operationName),
      },
    ],
    check: answerCheck,
    validate: (answers) => {
      const problem = errorsOf(answers[0]) ?? errorsOf(answers[1]);
      if (problem) return problem;
      const id = dig(answers[0], ['data', ...create.idPath]);
      if (typeof id !== 'string') return `the create answer has no ${create.idPath.join('.')}`;
      if (dig(answers[1], ['data', ...remove.resultPath]) !== id) return 'the delete answer does not name the created id';
      return null;
    },
  };
}

/**
 * M1: enableModel then disableModel. Entries are taken round-robin from the tenant's
 * visible catalog (11 300 of them), so concurrent connections never enable the same
 * entry; grants are workspace-level on a workspace that has none, which leaves every
 * other scenario's data untouched, and each pair removes what it created.
 */
function enableDisablePlan() {
  let next = 0;
  return async ({ dataset }: PlanContext): Promise<PreparedPlan> => {
    const workspaceId = globalId('Workspace', dataset.workspaces.mutations);
    const pool = dataset.visibleCatalogIds;
    return pairPlan({
      create: {
        document: OURS_ENABLE,
        operationName: 'M1Enable',
        variables: () => ({ input: { catalogEntryId: globalId('CatalogEntry', pool[next++ % pool.length]!), workspaceId } }),
        idPath: ['enableModel', 'modelAccess', 'id'],
      },
      remove: { document: OURS_DISABLE, operationName: 'M1Disable', resultPath: ['disableModel', 'deletedId'] },
    });
  };
}

/**
 * A1: what an agent runtime asks before each task. Request i resolves one of the tenant's
 * 200 aliases (1–10 targets each) for the workspace with an access override (which has
 * its own alias for half the names), the inheriting one, or the organization, in turn:
 * 600 different questions, each a credentials read that is audited and never cached.
 */
function resolveAliasPlan() {
  return async ({ dataset }: PlanContext): Promise<PreparedPlan> => {
    const workspaces = [dataset.workspaces.override, dataset.workspaces.inherit, null].map((id) => (id ? globalId('Workspace', id) : null));
    const names = dataset.aliasNames;
    // 7 is prime to 200: consecutive requests ask different names.
    const body = (i: number) =>
      requestBody(OURS_RESOLVE_ALIAS, { name: names[(i * 7) % names.length], workspaceId: workspaces[i % workspaces.length] }, 'A1');
    let next = 0;
    return {
      steps: [{ body: () => body(next++) }],
      preflight: [0, 1, 2, 3, 100, 101, 102].map((i) => ({ body: body(i) })),
      check: answerCheck,
      validate: (answers) =>
        answers
          .map((answer) => {
            const error = errorsOf(answer);
            if (error) return error;
            const route = answer?.data?.resolveModelAlias;
            if (!Array.isArray(route?.configs) || !Array.isArray(route?.skipped)) return 'no configs and skipped in the answer';
            return route.configs.length + route.skipped.length === 0 ? 'an alias of the dataset resolved to no target at all' : null;
          })
          .find(Boolean) ?? null,
    };
  };
}

/** M0: createWorkspace then deleteWorkspace — the mutation smoke baseline that exists today. */
function createDeleteWorkspacePlan() {
  let next = 0;
  return async (): Promise<PreparedPlan> =>
    pairPlan({
      create: {
        document: OURS_CREATE_WORKSPACE,
        operationName: 'M0Create',
        variables: () => ({ input: { name: `bench-m0-${next++}` } }),
        idPath: ['createWorkspace', 'workspace', 'id'],
      },
      remove: { document: OURS_DELETE_WORKSPACE, operationName: 'M0Delete', resultPath: ['deleteWorkspace', 'deletedId'] },
    });
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'Q0',
    title: 'workspaces(first: 50) — smoke baseline',
    requires: ['Query.workspaces'],
    targets: {
      ours: async () =>
        singleQuery(
          requestBody(OURS_Q0, { first: PAGE }, 'Q0'),
          (a) => expectEdges(a, ['workspaces'], 'some'),
          (a) => workspaceNamesDigest(a, ['workspaces']),
        ),
      postgraphile: async () =>
        singleQuery(
          requestBody(PGL_Q0, { first: PAGE }, 'Q0'),
          (a) => expectEdges(a, ['allWorkspaces'], 'some'),
          (a) => workspaceNamesDigest(a, ['allWorkspaces']),
        ),
      handwritten: async () =>
        singleQuery(
          requestBody(HANDWRITTEN_Q0, { first: PAGE }, 'Q0'),
          (a) => expectEdges(a, ['workspaces'], 'some'),
          (a) => workspaceNamesDigest(a, ['workspaces']),
        ),
    },
  },
  {
    id: 'Q1',
    title: 'catalogEntries(first: 50) with customProvider, enabledForOrganization, capabilities, limits',
    requires: ['Query.catalogEntries'],
    targets: { ours: oursCatalogPlan(false), postgraphile: pglCatalogPlan(false), handwritten: handwrittenCatalogPlan(false) },
  },
  {
    id: 'Q1v',
    title: 'Q1 with a different page size, cursor and filter (provider, capabilities) in every request',
    requires: ['Query.catalogEntries'],
    targets: {
      ours: variedPlan({
        document: OURS_CATALOG_VARIED,
        root: 'catalogEntries',
        filter: (f) => (f.provider || f.capabilities ? { provider: f.provider ?? null, capabilities: f.capabilities ?? null } : null),
        digest: (answer) => oursCatalogDigest(answer),
      }),
      postgraphile: variedPlan({
        document: PGL_CATALOG_VARIED,
        root: 'allAgentCatalogs',
        filter: (f) =>
          f.provider || f.capabilities
            ? {
                ...(f.provider ? { modelProvider: { equalTo: f.provider } } : {}),
                ...(f.capabilities ? { capabilities: { contains: f.capabilities } } : {}),
              }
            : null,
        digest: pglCatalogDigest,
      }),
      handwritten: variedPlan({
        document: HANDWRITTEN_CATALOG_PAGE.replace('Q1', 'Q1v'),
        root: 'catalogEntries',
        filter: (f) => (f.provider || f.capabilities ? { provider: f.provider ?? null, capabilities: f.capabilities ?? null } : null),
        digest: (answer) => oursCatalogDigest(answer),
      }),
    },
  },
  {
    id: 'A1',
    title: 'resolveModelAlias: a different alias (1–10 targets) for a workspace or the organization in every request',
    requires: ['Query.resolveModelAlias'],
    targets: { ours: resolveAliasPlan() },
  },
  {
    id: 'Q2a',
    title: 'workspaceModels(first: 50), workspace with an access override',
    requires: ['Query.workspaceModels'],
    targets: { ours: workspaceModelsPlan('override') },
  },
  {
    id: 'Q2b',
    title: 'workspaceModels(first: 50), workspace inheriting the organization grants',
    requires: ['Query.workspaceModels'],
    targets: { ours: workspaceModelsPlan('inherit') },
  },
  {
    id: 'Q3',
    title: 'Q1 starting 10 000 rows deep (keyset cursor)',
    requires: ['Query.catalogEntries'],
    targets: { ours: oursCatalogPlan(true), postgraphile: pglCatalogPlan(true), handwritten: handwrittenCatalogPlan(true) },
  },
  {
    id: 'M0',
    title: 'createWorkspace + deleteWorkspace — mutation smoke baseline',
    unit: 'each mutation is one request; a pair is two',
    requires: ['Mutation.createWorkspace', 'Mutation.deleteWorkspace'],
    targets: { ours: createDeleteWorkspacePlan() },
    cleanup: (dataset) => [
      { text: "DELETE FROM workspace WHERE organization_id = $1 AND name LIKE 'bench-m0-%'", values: [dataset.organizationId] },
    ],
  },
  {
    id: 'M1',
    title: 'enableModel + disableModel (workspace-level grant)',
    unit: 'each mutation is one request; a pair is two',
    requires: ['Mutation.enableModel', 'Mutation.disableModel'],
    targets: { ours: enableDisablePlan() },
    cleanup: (dataset) => [{ text: 'DELETE FROM agent_model_access WHERE workspace_id = $1', values: [dataset.workspaces.mutations] }],
  },
];
