import pg from 'pg';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { Prng } from './prng.ts';
import { databaseUrl } from './options.ts';

/**
 * The benchmark dataset. Organization 0 is the measured tenant: it owns over half the
 * catalog so that a page 10 000 rows deep exists for it, and has a workspace with an
 * access override, one without, and an empty one reserved for the mutation scenario.
 */
export const SHAPE = {
  organizations: 20,
  customProviders: 50,
  /** Custom providers owned by the measured tenant. */
  tenantCustomProviders: 10,
  catalogRows: 20_000,
  platformRows: 300,
  /** Rows owned by the measured tenant: ORGANIZATION rows and custom-provider rows. */
  tenantOrganizationRows: 3_000,
  tenantCustomProviderRows: 8_000,
  grants: 50_000,
  tenantOrgLevelGrants: 7_000,
  tenantOverrideGrants: 5_000,
  tenantExtraWorkspaceGrants: 3_000,
  /** Share of an organization's visible entries enabled at organization level (other orgs). */
  otherOrgLevelShare: 0.8,
  /** Organization-level aliases of the measured tenant; the override workspace overrides the first half. */
  tenantAliases: 200,
} as const;

const PLATFORM_PROVIDERS = ['openai', 'anthropic', 'gemini', 'mistral'] as const;
const CLOUD_PROVIDERS = ['bedrock', 'azure_openai', 'azure_ai', 'vertex_ai'] as const;
export const CUSTOM_MODEL_PROVIDER = 'custom-model-provider';

export interface Dataset {
  /** The measured tenant. */
  organizationId: string;
  workspaces: {
    /** Has grants of its own (an override). */
    override: string;
    /** Has no grants: inherits the organization-level set. */
    inherit: string;
    /** Has no grants; the mutation scenario enables and disables models here. */
    mutations: string;
  };
  /** Catalog ids visible to the measured tenant (platform + own), for the mutation scenario. */
  visibleCatalogIds: string[];
  /** Names of the tenant's aliases (A1): each at organization level, the first half also in the override workspace. */
  aliasNames: string[];
  counts: {
    organizations: number;
    workspaces: number;
    customProviders: number;
    catalog: { total: number; platform: number; organization: number; customProvider: number };
    grants: { total: number; organizationLevel: number; workspaceLevel: number };
    tenant: {
      visibleCatalog: number;
      orgLevelGrants: number;
      overrideGrants: number;
    };
  };
  seedMillis: number;
}

/** Drops and recreates the benchmark database, then applies the service's migrations with its own runner. */
export async function recreateDatabase(pgUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(pgUrl, name);
  const db = await openDatabase({ databaseUrl: url, dataDir: 'memory://', poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return url;
}

export async function dropDatabase(pgUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

interface CatalogRow {
  id: string;
  organizationId: string | null;
  customProviderId: string | null;
  modelProvider: string;
  modelName: string;
  displayName: string | null;
  metadata: string;
  createdAt: Date;
}

interface GrantRow {
  id: string;
  organizationId: string;
  workspaceId: string | null;
  catalogId: string;
  createdAt: Date;
}

const BASE_TIME = Date.UTC(2026, 0, 1);

function modelMetadata(rng: Prng, extra: Record<string, unknown>): string {
  const inputCost = rng.int(1, 3000) / 1e8;
  return JSON.stringify({
    ...extra,
    mode: 'chat',
    supports_function_calling: rng.chance(0.7),
    supports_vision: rng.chance(0.4),
    supports_reasoning: rng.chance(0.2),
    supports_response_schema: rng.chance(0.5),
    max_input_tokens: rng.pick([8_192, 32_768, 128_000, 200_000, 1_000_000]),
    max_output_tokens: rng.pick([4_096, 8_192, 16_384, 64_000]),
    input_cost_per_token: inputCost,
    output_cost_per_token: Math.round(inputCost * rng.int(2, 5) * 1e8) / 1e8,
  });
}

/** Splits `total` into `parts` near-equal integers (the first ones get the remainder). */
function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/**
 * Fills the (migrated, empty) database. Runs as the connection user, which is the
 * superuser here, so row-level security does not apply to the inserts.
 */
export async function seed(url: string, seedValue: number): Promise<Dataset> {
  const started = Date.now();
  const rng = new Prng(seedValue);

  // Organizations and workspaces.
  const organizations = Array.from({ length: SHAPE.organizations }, (_, i) => ({
    id: rng.uuid(),
    name: `bench-org-${String(i).padStart(2, '0')}`,
  }));
  const workspaces: { id: string; organizationId: string; name: string; createdAt: Date }[] = [];
  const workspacesByOrg = organizations.map((org, i) => {
    const names = i === 0 ? ['override', 'inherit', 'mutations', 'extra'] : Array.from({ length: rng.int(3, 5) }, (_, j) => `ws-${j}`);
    return names.map((name, j) => {
      const ws = { id: rng.uuid(), organizationId: org.id, name: `${name}`, createdAt: new Date(BASE_TIME + i * 1000 + j) };
      workspaces.push(ws);
      return ws;
    });
  });

  // Custom providers: the tenant gets its share, the rest round-robin over the others.
  const providers: { id: string; organizationId: string; displayName: string; baseUrl: string }[] = [];
  const providersByOrg: string[][] = organizations.map(() => []);
  for (let p = 0; p < SHAPE.customProviders; p++) {
    const orgIndex = p < SHAPE.tenantCustomProviders ? 0 : 1 + ((p - SHAPE.tenantCustomProviders) % (SHAPE.organizations - 1));
    const id = rng.uuid();
    providers.push({
      id,
      organizationId: organizations[orgIndex]!.id,
      displayName: `Gateway ${p}`,
      baseUrl: `http://127.0.0.1:9/gateway-${p}/v1`,
    });
    providersByOrg[orgIndex]!.push(id);
  }

  // Catalog.
  const catalog: CatalogRow[] = [];
  const add = (row: Omit<CatalogRow, 'id' | 'createdAt' | 'displayName' | 'metadata'>, extra: Record<string, unknown>) => {
    catalog.push({
      ...row,
      id: rng.uuid(),
      displayName: rng.chance(0.3) ? `${row.modelName} (display)` : null,
      metadata: modelMetadata(rng, extra),
      createdAt: new Date(0),
    });
  };
  for (let i = 0; i < SHAPE.platformRows; i++) {
    const provider = PLATFORM_PROVIDERS[i % PLATFORM_PROVIDERS.length]!;
    add({ organizationId: null, customProviderId: null, modelProvider: provider, modelName: `bench-${provider}-${i}` }, {});
  }
  const addOrgRows = (orgIndex: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const provider = CLOUD_PROVIDERS[i % CLOUD_PROVIDERS.length]!;
      add(
        { organizationId: organizations[orgIndex]!.id, customProviderId: null, modelProvider: provider, modelName: `org${orgIndex}-${provider}-model-${i}` },
        { deployment: `deployment-${i}` },
      );
    }
  };
  const addCustomRows = (orgIndex: number, count: number) => {
    const own = providersByOrg[orgIndex]!;
    split(count, own.length).forEach((n, p) => {
      for (let i = 0; i < n; i++) {
        const name = `org${orgIndex}/gw${p}/model-${i}`;
        add(
          { organizationId: organizations[orgIndex]!.id, customProviderId: own[p]!, modelProvider: CUSTOM_MODEL_PROVIDER, modelName: name },
          { id: name, object: 'model', owned_by: `gateway-${p}` },
        );
      }
    });
  };
  addOrgRows(0, SHAPE.tenantOrganizationRows);
  addCustomRows(0, SHAPE.tenantCustomProviderRows);
  const rest = SHAPE.catalogRows - SHAPE.platformRows - SHAPE.tenantOrganizationRows - SHAPE.tenantCustomProviderRows;
  split(rest, SHAPE.organizations - 1).forEach((n, k) => {
    const orgRows = Math.round(n * 0.4);
    addOrgRows(k + 1, orgRows);
    addCustomRows(k + 1, n - orgRows);
  });
  // Creation times: a random interleaving, four rows per millisecond-stamped instant so
  // that keyset pagination has ties to break on id.
  const order = rng.shuffle(catalog.map((_, i) => i));
  order.forEach((rowIndex, position) => {
    catalog[rowIndex]!.createdAt = new Date(BASE_TIME + 60_000 + Math.floor(position / 4) * 1000);
  });

  // Grants.
  const grants: GrantRow[] = [];
  const visibleByOrg = organizations.map((org) =>
    catalog.filter((row) => row.organizationId === null || row.organizationId === org.id).map((row) => row.id),
  );
  let grantClock = BASE_TIME + 3_600_000;
  const grant = (orgIndex: number, workspaceId: string | null, count: number) => {
    for (const catalogId of rng.sample(visibleByOrg[orgIndex]!, count)) {
      grants.push({ id: rng.uuid(), organizationId: organizations[orgIndex]!.id, workspaceId, catalogId, createdAt: new Date(grantClock++) });
    }
  };
  const tenantWs = workspacesByOrg[0]!;
  grant(0, null, SHAPE.tenantOrgLevelGrants);
  grant(0, tenantWs[0]!.id, SHAPE.tenantOverrideGrants);
  grant(0, tenantWs[3]!.id, SHAPE.tenantExtraWorkspaceGrants);
  const tenantGrants = grants.length;
  split(SHAPE.grants - tenantGrants, SHAPE.organizations - 1).forEach((target, k) => {
    const orgIndex = k + 1;
    const visible = visibleByOrg[orgIndex]!.length;
    const orgLevel = Math.min(target, Math.round(visible * SHAPE.otherOrgLevelShare));
    grant(orgIndex, null, orgLevel);
    // The first workspace of each organization keeps no grants (inherits).
    const overriding = workspacesByOrg[orgIndex]!.slice(1);
    split(target - orgLevel, overriding.length).forEach((n, w) => {
      if (n > visible) throw new Error(`dataset shape: workspace needs ${n} grants but only ${visible} entries are visible`);
      grant(orgIndex, overriding[w]!.id, n);
    });
  });
  // Aliases of the tenant: 1 to 10 targets each (the count cycling with the index), drawn
  // from its visible catalog, so some are usable in a workspace and some are skipped.
  const aliasNames = Array.from({ length: SHAPE.tenantAliases }, (_, i) => `route-${String(i).padStart(3, '0')}`);
  const aliases: { id: string; workspaceId: string | null; name: string }[] = [];
  const aliasTargets: { aliasId: string; position: number; catalogId: string }[] = [];
  const addAlias = (name: string, workspaceId: string | null, targets: number) => {
    const id = rng.uuid();
    aliases.push({ id, workspaceId, name });
    rng.sample(visibleByOrg[0]!, targets).forEach((catalogId, position) => aliasTargets.push({ aliasId: id, position, catalogId }));
  };
  aliasNames.forEach((name, i) => addAlias(name, null, 1 + (i % 10)));
  aliasNames.slice(0, SHAPE.tenantAliases / 2).forEach((name, i) => addAlias(name, tenantWs[0]!.id, 10 - (i % 10)));

  if (catalog.length !== SHAPE.catalogRows || grants.length !== SHAPE.grants) {
    throw new Error(`dataset shape: built ${catalog.length} catalog rows and ${grants.length} grants`);
  }

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await insertColumns(client, 'organization', ['id', 'name', 'created_at'], ['uuid', 'text', 'timestamptz'], organizations.map((o, i) => [o.id, o.name, new Date(BASE_TIME + i)]));
    await insertColumns(client, 'workspace', ['id', 'organization_id', 'name', 'created_at'], ['uuid', 'uuid', 'text', 'timestamptz'], workspaces.map((w) => [w.id, w.organizationId, w.name, w.createdAt]));
    await insertColumns(
      client,
      'agent_custom_provider',
      ['id', 'organization_id', 'display_name', 'base_url', 'discovery_status', 'last_refreshed_at'],
      ['uuid', 'uuid', 'text', 'text', 'discovery_status', 'timestamptz'],
      providers.map((p) => [p.id, p.organizationId, p.displayName, p.baseUrl, 'SUCCEEDED', new Date(BASE_TIME)]),
    );
    await insertColumns(
      client,
      'agent_catalog',
      ['id', 'organization_id', 'custom_provider_id', 'model_provider', 'model_name', 'display_name', 'model_metadata', 'created_at', 'updated_at'],
      ['uuid', 'uuid', 'uuid', 'text', 'text', 'text', 'jsonb', 'timestamptz', 'timestamptz'],
      catalog.map((c) => [c.id, c.organizationId, c.customProviderId, c.modelProvider, c.modelName, c.displayName, c.metadata, c.createdAt, c.createdAt]),
    );
    await insertColumns(
      client,
      'agent_model_access',
      ['id', 'organization_id', 'workspace_id', 'catalog_id', 'created_at'],
      ['uuid', 'uuid', 'uuid', 'uuid', 'timestamptz'],
      grants.map((g) => [g.id, g.organizationId, g.workspaceId, g.catalogId, g.createdAt]),
    );
    const tenant = organizations[0]!.id;
    await insertColumns(
      client,
      'agent_model_alias',
      ['id', 'organization_id', 'workspace_id', 'name'],
      ['uuid', 'uuid', 'uuid', 'text'],
      aliases.map((a) => [a.id, tenant, a.workspaceId, a.name]),
    );
    await insertColumns(
      client,
      'agent_model_alias_target',
      ['organization_id', 'alias_id', 'position', 'catalog_id'],
      ['uuid', 'uuid', 'int2', 'uuid'],
      aliasTargets.map((t) => [tenant, t.aliasId, t.position, t.catalogId]),
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }

  const tenantId = organizations[0]!.id;
  return {
    organizationId: tenantId,
    workspaces: { override: tenantWs[0]!.id, inherit: tenantWs[1]!.id, mutations: tenantWs[2]!.id },
    visibleCatalogIds: visibleByOrg[0]!,
    aliasNames,
    counts: {
      organizations: organizations.length,
      workspaces: workspaces.length,
      customProviders: providers.length,
      catalog: {
        total: catalog.length,
        platform: catalog.filter((c) => c.organizationId === null).length,
        organization: catalog.filter((c) => c.organizationId !== null && c.customProviderId === null).length,
        customProvider: catalog.filter((c) => c.customProviderId !== null).length,
      },
      grants: {
        total: grants.length,
        organizationLevel: grants.filter((g) => g.workspaceId === null).length,
        workspaceLevel: grants.filter((g) => g.workspaceId !== null).length,
      },
      tenant: {
        visibleCatalog: visibleByOrg[0]!.length,
        orgLevelGrants: SHAPE.tenantOrgLevelGrants,
        overrideGrants: SHAPE.tenantOverrideGrants,
      },
    },
    seedMillis: Date.now() - started,
  };
}

const INSERT_CHUNK = 5_000;

/** Bulk insert: one `INSERT … SELECT FROM unnest($1::t1[], $2::t2[], …)` per chunk. */
async function insertColumns(client: pg.Client, table: string, columns: string[], types: string[], rows: unknown[][]): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    const chunk = rows.slice(start, start + INSERT_CHUNK);
    const arrays = columns.map((_, c) => chunk.map((row) => row[c]));
    const params = types.map((t, i) => (t === 'jsonb' || t === 'discovery_status' ? `$${i + 1}::text[]` : `$${i + 1}::${t}[]`));
    const select = types.map((t, i) => (t === 'jsonb' || t === 'discovery_status' ? `c${i}::${t}` : `c${i}`));
    await client.query(
      `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')})
       SELECT ${select.join(', ')} FROM unnest(${params.join(', ')}) AS u(${columns.map((_, i) => `c${i}`).join(', ')})`,
      arrays,
    );
  }
}

/** Counts that must hold after a run (the mutation scenario must leave no grant behind). */
export async function countGrants(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM agent_model_access');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

export async function vacuumAnalyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM ANALYZE');
  } finally {
    await client.end();
  }
}
