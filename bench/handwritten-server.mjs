// Baseline (b): the practical limit. node:http + a pg Pool, no GraphQL engine: the
// operation is picked by operationName and answered with one SQL statement whose rows
// are shaped into the same JSON the service returns. Per request, like the service:
// verify the bearer token, then BEGIN; set_config(role, org); the query; COMMIT — so
// row-level security applies, with the service-style explicit organization filter on top.
//
// Environment: DATABASE_URL, PORT, AUTH_JWT_SECRET.
import http from 'node:http';
import pg from 'pg';
import { AuthError, verifyBearer } from './jwt-hs256.mjs';

const { DATABASE_URL, PORT, AUTH_JWT_SECRET } = process.env;
if (!DATABASE_URL || !PORT || !AUTH_JWT_SECRET) {
  process.stderr.write('handwritten-server: DATABASE_URL, PORT and AUTH_JWT_SECRET are required\n');
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
pool.on('error', () => {});

const gid = (type, id) => Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
const MAX_BODY = 64 * 1024;

class BadInput extends Error {}

function pageSize(first) {
  const n = first ?? 50;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new BadInput('first must be between 1 and 100');
  return n;
}

/** Keyset cursor: base64url of JSON [createdAt (ISO, ms), id]. */
function decodeCursor(after) {
  if (after == null) return [null, null];
  try {
    const [at, id] = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return [at, id];
  } catch {
    // fall through
  }
  throw new BadInput('after is not a valid cursor');
}
const encodeCursor = (at, id) => Buffer.from(JSON.stringify([at, id]), 'utf8').toString('base64url');

/**
 * One page of the catalog as the service shows it. The page is cut first (LIMIT in a
 * subquery, walking the (created_at DESC, id DESC) index) and only its rows are then
 * decorated: this keeps "enabled" a per-row probe of the grant index instead of a hash
 * of every organization-level grant. The cursor variant compares the row value
 * (created_at, id), which PostgreSQL uses as an index condition.
 */
function catalogPageSql(withCursor, filtered = false) {
  return `
SELECT c.id, c.model_provider, c.model_name, c.display_name, c.organization_id, c.custom_provider_id,
       to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
       p.display_name AS provider_display_name,
       EXISTS (SELECT 1 FROM agent_model_access a
                WHERE a.organization_id = $1 AND a.workspace_id IS NULL AND a.catalog_id = c.id) AS enabled,
       c.capabilities, c.max_input_tokens, c.max_output_tokens
  FROM (SELECT * FROM agent_catalog c
         WHERE (c.organization_id IS NULL OR c.organization_id = $1)
           ${withCursor ? 'AND (c.created_at, c.id) < ($3::timestamptz, $4::uuid)' : ''}
           ${filtered ? 'AND ($5::text IS NULL OR c.model_provider = $5) AND ($6::jsonb IS NULL OR c.capabilities @> $6)' : ''}
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT $2) c
  LEFT JOIN agent_custom_provider p ON p.organization_id = c.organization_id AND p.id = c.custom_provider_id
 ORDER BY c.created_at DESC, c.id DESC`;
}
// Named statements: parsed and planned once per connection, as a careful hand-written
// service would.
const CATALOG_FIRST = { name: 'hw_catalog_first', text: catalogPageSql(false) };
const CATALOG_AFTER = { name: 'hw_catalog_after', text: catalogPageSql(true) };
// Q1v: the provider and capability filters (each optional), always with a cursor slot.
const CATALOG_FILTERED = { name: 'hw_catalog_filtered', text: catalogPageSql(true, true) };
const FAR_FUTURE = ['9999-12-31T00:00:00.000Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff'];
const WORKSPACES = {
  name: 'hw_workspaces',
  text: 'SELECT id, name FROM workspace WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
};
const SCOPE = {
  name: 'hw_scope',
  text: "SELECT set_config('role', 'mcp_app', true), set_config('app.current_org_id', $1, true)",
};

const handlers = {
  /** Same answer shape as the service's catalogEntries page (Q1/Q3). */
  async catalogEntries(client, org, variables) {
    const first = pageSize(variables.first);
    const [at, id] = decodeCursor(variables.after);
    const filter = variables.filter;
    const statement = filter
      ? {
          ...CATALOG_FILTERED,
          values: [org, first + 1, ...(at === null ? FAR_FUTURE : [at, id]), filter.provider ?? null,
            filter.capabilities ? JSON.stringify(filter.capabilities) : null],
        }
      : at === null
        ? { ...CATALOG_FIRST, values: [org, first + 1] }
        : { ...CATALOG_AFTER, values: [org, first + 1, at, id] };
    const { rows } = await client.query(statement);
    const page = rows.slice(0, first);
    const edges = page.map((r) => ({
      cursor: encodeCursor(r.created_at, r.id),
      node: {
        id: gid('CatalogEntry', r.id),
        databaseId: r.id,
        modelProvider: r.model_provider,
        modelName: r.model_name,
        displayName: r.display_name,
        origin: r.organization_id === null ? 'PLATFORM' : r.custom_provider_id !== null ? 'CUSTOM_PROVIDER' : 'ORGANIZATION',
        createdAt: r.created_at,
        customProvider: r.provider_display_name === null ? null : { displayName: r.provider_display_name },
        enabledForOrganization: r.enabled,
        capabilities: r.capabilities,
        limits: { maxInputTokens: r.max_input_tokens, maxOutputTokens: r.max_output_tokens },
      },
    }));
    return {
      catalogEntries: {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null },
      },
    };
  },
  /** Same answer shape as the service's workspaces page (Q0). */
  async workspaces(client, org, variables) {
    const first = pageSize(variables.first);
    const { rows } = await client.query({ ...WORKSPACES, values: [org, first] });
    return { workspaces: { edges: rows.map((r) => ({ node: { id: gid('Workspace', r.id), name: r.name } })) } };
  },
};

/** operationName → handler. The bench sends the same operation names to every target. */
const OPERATIONS = { Q0: handlers.workspaces, Q1: handlers.catalogEntries, Q1v: handlers.catalogEntries };

async function execute(org, operationName, variables) {
  const handler = OPERATIONS[operationName];
  if (!handler) throw new BadInput(`unknown operation ${operationName}`);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query({ ...SCOPE, values: [org] });
      const data = await handler(client, org, variables ?? {});
      await client.query('COMMIT');
      return data;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    client.release();
  }
}

function send(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    pool.query('SELECT 1').then(
      () => res.writeHead(200).end('ok'),
      () => res.writeHead(503).end('database unreachable'),
    );
    return;
  }
  if (req.method !== 'POST' || req.url !== '/graphql') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', async () => {
    try {
      const claims = verifyBearer(req.headers.authorization, AUTH_JWT_SECRET);
      const { operationName, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      send(res, 200, { data: await execute(claims.org_id, operationName, variables) });
    } catch (error) {
      if (error instanceof AuthError) send(res, 401, { errors: [{ message: error.message, extensions: { code: 'UNAUTHENTICATED' } }] });
      else if (error instanceof BadInput || error instanceof SyntaxError) send(res, 200, { errors: [{ message: error.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      else send(res, 200, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  });
});
server.listen(Number(PORT), '127.0.0.1');

const stop = () => {
  server.close(() => {
    void pool.end().then(() => process.exit(0));
  });
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
