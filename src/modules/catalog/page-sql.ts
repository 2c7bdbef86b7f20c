import { Prisma, type AgentCatalog, type AgentCatalogEffective, type AgentCustomProvider } from '../../generated/prisma/client.ts';
import { queryOnConnection, type Tx } from '../../db/scope.ts';
import type { Keyset, Ordering, SortKey, SortValue } from '../../graphql/pagination.ts';

/*
 * A catalog page as one SQL statement whose JSON PostgreSQL builds: the hottest read
 * of the service, written out because Prisma's findMany with the joined relations and
 * its row mapping cost more CPU than everything else in the data layer (BENCHMARKS.md,
 * step 7 and the data-access table). Row-level security applies as to every statement
 * of the request's transaction.
 */

/**
 * What the response reads of the page's entries: the names of the fields selected below
 * the connection (selectedFieldNames). The page carries only the columns those fields
 * read: PostgreSQL spends more building a page's JSON than finding its rows, and the
 * service parses all of it (BENCHMARKS.md, step 12 of the second release).
 */
export type CatalogPageNeeds = ReadonlySet<string>;

// What a page read along with an entry is kept on the entry object, under a key of this
// module (a WeakMap's inserts were about 1 % of a miss's CPU profile). Entries are
// objects of one request, so nothing outlives it.
const READ_WITH_PAGE = Symbol('read with its page');
type PageEntry = AgentCatalog & { [READ_WITH_PAGE]?: ReadWithPage };

/**
 * What the entry's page read along with it (undefined for an entry read otherwise): its
 * fields answer from it synchronously, without a loader round or a promise per field.
 */
export function readWithPage(entry: AgentCatalog): ReadWithPage | undefined {
  return (entry as PageEntry)[READ_WITH_PAGE];
}

/** What a page read along with an entry. Like the entry, its effective values carry the columns the selected fields read (CatalogPageNeeds), no others. */
export interface ReadWithPage {
  effective?: AgentCatalogEffective;
  customProvider?: AgentCustomProvider | null;
  enabled?: boolean;
}

const SORT_COLUMN: Record<string, Prisma.Sql> = {
  createdAt: Prisma.raw('c.created_at'),
  modelName: Prisma.raw('c.model_name'),
  modelProvider: Prisma.raw('c.model_provider'),
  id: Prisma.raw('c.id'),
};

function sortColumn(key: SortKey<AgentCatalog>): Prisma.Sql {
  const column = SORT_COLUMN[key.field];
  if (!column) throw new Error(`no SQL column for the sort key ${key.field}`);
  return column;
}

/**
 * `value` (a typed parameter) as a scalar subquery when `unseen`, which no plan can look
 * into. PostgreSQL plans a prepared statement for its parameters' values for as long as
 * such a plan looks cheaper than the generic one, and one that knows the page size and
 * the organization always does: a catalog page was planned at every execution, which
 * cost PostgreSQL more than running it (BENCHMARKS.md, step 17). Where nothing else
 * compares with a value, the best plan is the ordering's index walk whatever the values,
 * so they are kept unseen and PostgreSQL keeps its generic plan, once per connection. A
 * filter's values do decide the plan (a rare provider is best found through its index, a
 * common one along the ordering's), so a page filtered by value shows them all.
 */
export function unseenByPlanner(value: Prisma.Sql, unseen: boolean): Prisma.Sql {
  return unseen ? Prisma.sql`(SELECT ${value})` : value;
}

function sortValue(key: SortKey<AgentCatalog>, value: SortValue, unseen: boolean): Prisma.Sql {
  if (value instanceof Date) return unseenByPlanner(Prisma.sql`${value.toISOString()}::timestamptz`, unseen);
  return unseenByPlanner(key.field === 'id' ? Prisma.sql`${value}::uuid` : Prisma.sql`${value}::text`, unseen);
}

/** Rows strictly beyond `values`, in the form PostgreSQL plans well (see `beyond` in pagination.ts). */
function beyondSql(keys: readonly SortKey<AgentCatalog>[], values: readonly SortValue[], reverse: boolean, unseen: boolean): Prisma.Sql {
  const [lead, ...rest] = keys;
  const column = sortColumn(lead!);
  const value = sortValue(lead!, values[0]!, unseen);
  const ascending = (lead!.direction === 'asc') !== reverse;
  if (rest.length === 0) return ascending ? Prisma.sql`${column} > ${value}` : Prisma.sql`${column} < ${value}`;
  return Prisma.sql`${column} ${Prisma.raw(ascending ? '>=' : '<=')} ${value}
    AND NOT (${column} = ${value} AND NOT (${beyondSql(rest, values.slice(1), reverse, unseen)}))`;
}

function orderSql(ordering: Ordering<AgentCatalog>, backward: boolean): Prisma.Sql {
  return Prisma.join(
    ordering.keys.map((key) => Prisma.sql`${sortColumn(key)} ${Prisma.raw((key.direction === 'asc') !== backward ? 'ASC' : 'DESC')}`),
  );
}

// Every page carries what ids, origins, names and the keys of every ordering read.
const ENTRY_JSON = `'id', c.id, 'organizationId', c.organization_id, 'customProviderId', c.custom_provider_id,
  'modelProvider', c.model_provider, 'modelName', c.model_name, 'displayName', c.display_name, 'createdAt', c.created_at`;

/** The entry's other columns, by the fields that read them. */
const ENTRY_JSON_BY_FIELD: Record<string, string> = {
  lastRefreshedAt: `'lastRefreshedAt', c.last_refreshed_at`,
  updatedAt: `'updatedAt', c.updated_at`,
  overrides: `'overrides', c.overrides`,
  metadata: `'modelMetadata', c.model_metadata`,
  // cloudConfig is read from the metadata document.
  cloudConfig: `'modelMetadata', c.model_metadata`,
};

/** The effective values, stored with the entry (migration 20261204000000), by the fields that read them. */
const EFFECTIVE_JSON_BY_FIELD: Record<string, string> = {
  capabilities: `'capabilities', c.effective_capabilities`,
  limits: `'maxInputTokens', c.effective_max_input_tokens, 'maxOutputTokens', c.effective_max_output_tokens`,
  pricing: `'inputCostPerToken', c.effective_input_cost_per_token, 'outputCostPerToken', c.effective_output_cost_per_token`,
  inheritsFrom: `'inheritsFromId', c.inherits_from_id`,
};

/** The JSON of the fields in `needs` that `byField` names, each column once. */
function jsonFor(needs: CatalogPageNeeds, byField: Record<string, string>): string[] {
  return [...new Set(Object.keys(byField).filter((field) => needs.has(field)).map((field) => byField[field]!))];
}

// encrypted_config as hex: JSON has no bytes; turned back into bytes below.
const PROVIDER_JSON = Prisma.raw(`json_build_object('id', p.id,
  'organizationId', p.organization_id, 'displayName', p.display_name, 'baseUrl', p.base_url, 'passthrough', p.passthrough,
  'apiKeyHeader', p.api_key_header, 'encryptedConfig', encode(p.encrypted_config, 'hex'), 'discoveryStatus', p.discovery_status,
  'lastDiscoveryError', p.last_discovery_error, 'lastDiscoveryStartedAt', p.last_discovery_started_at,
  'lastRefreshedAt', p.last_refreshed_at, 'createdAt', p.created_at, 'updatedAt', p.updated_at)`);

export interface CatalogPageQuery {
  organizationId: string;
  /** Which of the rows the transaction sees (conditions on `c`, an agent_catalog row, catalogFilterSql), before the keyset bounds. */
  where: Prisma.Sql;
  /** Whether `where` compares with values of a filter (catalogFilterSql): the page's own values are then shown to the planner too. */
  byValue: boolean;
  ordering: Ordering<AgentCatalog>;
  keyset: Keyset;
  needs: CatalogPageNeeds;
}

/**
 * The page is cut first (keyset bounds, order and LIMIT over agent_catalog alone, so
 * PostgreSQL walks the ordering's index) and only its rows are then decorated with
 * the organization-level grant. Custom providers come once each, beside the rows.
 * Row-level security limits the rows to the organization's and the platform's (see
 * CatalogFilterSql), and fetchCatalogPageEntries checks every row it returns.
 */
function pageSql({ organizationId, where, byValue, ordering, keyset, needs }: CatalogPageQuery): Prisma.Sql {
  const unseen = !byValue;
  const organization = unseenByPlanner(Prisma.sql`${organizationId}::uuid`, unseen);
  const conditions = [where];
  if (keyset.after) conditions.push(beyondSql(ordering.keys, keyset.after, false, unseen));
  if (keyset.before) conditions.push(beyondSql(ordering.keys, keyset.before, true, unseen));
  const order = orderSql(ordering, keyset.backward);
  const fields = [Prisma.raw(`'entry', json_build_object(${[ENTRY_JSON, ...jsonFor(needs, ENTRY_JSON_BY_FIELD)].join(', ')})`)];
  const effective = jsonFor(needs, EFFECTIVE_JSON_BY_FIELD);
  if (effective.length > 0) fields.push(Prisma.raw(`'effective', json_build_object(${effective.join(', ')})`));
  if (needs.has('enabledForOrganization')) {
    fields.push(Prisma.sql`'enabled', EXISTS (SELECT 1 FROM agent_model_access a
      WHERE a.organization_id = ${organization} AND a.workspace_id IS NULL AND a.catalog_id = c.id)`);
  }
  const providers = needs.has('customProvider')
    ? Prisma.sql`(SELECT coalesce(json_object_agg(p.id, ${PROVIDER_JSON}), '{}') FROM agent_custom_provider p
        WHERE p.organization_id = ${organization} AND p.id IN (SELECT c.custom_provider_id FROM page c))`
    : Prisma.sql`NULL`;
  return Prisma.sql`WITH page AS (SELECT * FROM agent_catalog c WHERE ${Prisma.join(conditions, ' AND ')} ORDER BY ${order} LIMIT ${unseenByPlanner(Prisma.sql`${keyset.take}::int`, unseen)})
    SELECT json_build_object(
      'rows', (SELECT coalesce(json_agg(json_build_object(${Prisma.join(fields)}) ORDER BY ${order}), '[]') FROM page c),
      'providers', ${providers})::text AS page`;
}

const date = (value: string | null): Date | null => (value === null ? null : new Date(value));

function providerRow(json: Record<string, unknown>): AgentCustomProvider {
  const hex = json.encryptedConfig as string | null;
  return {
    ...(json as unknown as AgentCustomProvider),
    encryptedConfig: hex === null ? null : Uint8Array.from(Buffer.from(hex, 'hex')),
    lastDiscoveryStartedAt: date(json.lastDiscoveryStartedAt as string | null),
    lastRefreshedAt: date(json.lastRefreshedAt as string | null),
    createdAt: new Date(json.createdAt as string),
    updatedAt: new Date(json.updatedAt as string),
  };
}

interface PageJson {
  rows: { entry: Record<string, unknown>; effective?: AgentCatalogEffective; enabled?: boolean }[];
  /** By id; null when the selection does not read providers. */
  providers: Record<string, Record<string, unknown>> | null;
}

/** An entry of the page, its dates turned back into dates; the columns it was read without stay absent. */
function entryRow(json: Record<string, unknown>): AgentCatalog {
  json.createdAt = new Date(json.createdAt as string);
  if ('updatedAt' in json) json.updatedAt = new Date(json.updatedAt as string);
  if ('lastRefreshedAt' in json) json.lastRefreshedAt = date(json.lastRefreshedAt as string | null);
  return json as unknown as AgentCatalog;
}

/** One page of entries (in the order the keyset fetches them), in one statement; each carries what was read with it (readWithPage). */
export async function fetchCatalogPageEntries(tx: Tx, query: CatalogPageQuery): Promise<AgentCatalog[]> {
  const [[page]] = (await queryOnConnection(tx, pageSql(query))) as [[string]];
  const { rows, providers } = JSON.parse(page) as PageJson;
  const providerById = new Map(Object.entries(providers ?? {}).map(([id, json]) => [id, providerRow(json)]));
  return rows.map(({ entry: json, effective, enabled }) => {
    if (json.organizationId !== null && json.organizationId !== query.organizationId) {
      throw new Error('row-level security let a catalog entry of another organization into a page');
    }
    const providerId = json.customProviderId as string | null;
    const entry: PageEntry = entryRow(json);
    entry[READ_WITH_PAGE] = {
      effective,
      customProvider: providers === null ? undefined : providerId === null ? null : (providerById.get(providerId) ?? null),
      enabled,
    };
    return entry;
  });
}

/** How many of the organization's and the platform's rows `where` selects (the connection's totalCount). */
export async function countCatalogRows(tx: Tx, organizationId: string, where: Prisma.Sql): Promise<number> {
  const [{ count }] = await tx.$queryRaw<[{ count: number }]>`SELECT count(*)::int AS count FROM agent_catalog c
    WHERE (c.organization_id = ${organizationId}::uuid OR c.organization_id IS NULL) AND ${where}`;
  return count;
}
