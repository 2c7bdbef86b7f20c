// Load and concurrency soak: mixed reads and writes from several organizations at high
// concurrency for a bounded time against PostgreSQL, then invariant checks. Writes a
// report to reports/soak-report.{json,md}; exits non-zero on any server error or
// broken invariant.
//
//   npm run soak                       (SOAK_SECONDS=30, SOAK_CONCURRENCY=32, SOAK_ORGS=5)
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { mintToken } from '../src/security/tokens.ts';
import { freePort } from './free-port.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 32);
const ORGS = Number(process.env.SOAK_ORGS ?? 5);
const BASE_URL = process.env.SOAK_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const SECRET = crypto.randomBytes(32).toString('base64');

interface Outcome {
  operation: string;
  status: number;
  code?: string;
}

/** A stand-in OpenAI-compatible provider on loopback. */
async function fakeProvider(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    const count = 20 + Math.floor(Math.random() * 10);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: Array.from({ length: count }, (_, i) => ({ id: `soak-model-${i}`, owned_by: 'soak' })) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`, close: () => server.close() };
}

async function main() {
  const dbName = `mcp_soak_${Date.now()}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();

  const port = await freePort();
  const provider = await fakeProvider();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '20',
      AUTH_JWT_SECRET: SECRET,
      DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_POINTS: '0',
      SHUTDOWN_DRAIN_MS: '0',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const outcomes: Outcome[] = [];
  const violations: string[] = [];
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${endpoint}/readyz`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (i > 300) throw new Error('service did not become ready');
      await new Promise((r) => setTimeout(r, 200));
    }

    const call = async (operation: string, token: string, query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(`${endpoint}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json().catch(() => ({}))) as {
        data?: Record<string, any>;
        errors?: { extensions?: { code?: string } }[];
      };
      outcomes.push({ operation, status: response.status, code: body.errors?.[0]?.extensions?.code });
      return body;
    };

    // Set-up through the API: organizations, workspaces, cloud entries, a custom provider.
    const platform = await mintToken(SECRET, { subject: 'soak-admin', scopes: ['platform:admin'] });
    const orgs: { id: string; token: string; workspaces: string[]; entries: string[]; provider: string }[] = [];
    for (let o = 0; o < ORGS; o++) {
      const created = await call('createOrganization', platform, 'mutation($n:String!){createOrganization(input:{name:$n}){organization{databaseId}}}', { n: `Soak ${o}` });
      const id = created.data!.createOrganization.organization.databaseId as string;
      const token = await mintToken(SECRET, { subject: `soak-${o}`, organizationId: id, scopes: ['*'] });
      const workspaces: string[] = [];
      for (let w = 0; w < 3; w++) {
        const ws = await call('createWorkspace', token, 'mutation($n:String!){createWorkspace(input:{name:$n}){workspace{id}}}', { n: `ws ${w}` });
        workspaces.push(ws.data!.createWorkspace.workspace.id);
      }
      const entries: string[] = [];
      for (let e = 0; e < 10; e++) {
        const entry = await call('createCatalogEntry', token,
          'mutation($m:String!){createCatalogEntry(input:{modelName:$m,config:{vertexAi:{vertexModel:$m}}}){catalogEntry{id}}}', { m: `soak-vertex-${e}` });
        entries.push(entry.data!.createCatalogEntry.catalogEntry.id);
      }
      const created2 = await call('createCustomProvider', token,
        'mutation($u:String!){createCustomProvider(input:{displayName:"soak",baseUrl:$u,apiKey:"soak-secret-key"}){customProvider{id}}}', { u: provider.url });
      orgs.push({ id, token, workspaces, entries, provider: created2.data!.createCustomProvider.customProvider.id });
    }

    const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
    const operations: ((org: (typeof orgs)[number]) => Promise<unknown>)[] = [
      async (org) => {
        const page = await call('catalogEntries', org.token, '{catalogEntries(first:50){totalCount edges{node{databaseId organizationId origin enabledForOrganization customProvider{displayName}}}}}');
        for (const edge of page.data?.catalogEntries.edges ?? []) {
          if (edge.node.organizationId && edge.node.organizationId !== org.id) violations.push(`foreign catalog row visible to ${org.id}`);
        }
      },
      (org) => call('workspaceModels', org.token, 'query($w:ID!){workspaceModels(workspaceId:$w,first:50){totalCount edges{node{id}}}}', { w: pick(org.workspaces) }),
      (org) => call('enableModel', org.token, 'mutation($c:ID!,$w:ID){enableModel(input:{catalogEntryId:$c,workspaceId:$w}){modelAccess{id}}}', { c: pick(org.entries), w: Math.random() < 0.5 ? pick(org.workspaces) : null }),
      async (org) => {
        const grants = await call('modelAccessGrants', org.token, '{modelAccessGrants(first:20){edges{node{id}}}}');
        const edges = grants.data?.modelAccessGrants.edges ?? [];
        if (edges.length > 0) await call('disableModel', org.token, 'mutation($id:ID!){disableModel(input:{id:$id}){deletedId}}', { id: pick(edges as { node: { id: string } }[]).node.id });
      },
      (org) => call('setDefaultModel', org.token, 'mutation($c:ID!){setDefaultModel(input:{catalogEntryId:$c}){defaultModelSelection{catalogId}}}', { c: pick(org.entries) }),
      (org) => call('defaultModelSelection', org.token, '{defaultModelSelection{catalogId source}}'),
      (org) => call('refreshCustomProvider', org.token, 'mutation($id:ID!){refreshCustomProvider(input:{id:$id}){upsertedCount removedCount}}', { id: org.provider }),
      async (org) => {
        // Another organization's IDs must not resolve.
        const other = pick(orgs.filter((o) => o !== org));
        const result = await call('node(foreign)', org.token, 'query($id:ID!){node(id:$id){id}}', { id: pick(other.entries) });
        if (result.data?.node) violations.push(`foreign node visible to ${org.id}`);
      },
    ];

    const started = Date.now();
    const until = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < until) await pick(operations)(pick(orgs));
      }),
    );
    const elapsed = (Date.now() - started) / 1000;

    // Invariants, checked directly in the database.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const check = async (label: string, sql: string) => {
      const { rows } = await db.query<{ n: string }>(sql);
      if (Number(rows[0]!.n) !== 0) violations.push(`${label}: ${rows[0]!.n}`);
    };
    await check('duplicate grants', `SELECT count(*) AS n FROM (SELECT 1 FROM agent_model_access GROUP BY organization_id, workspace_id, catalog_id HAVING count(*) > 1) d`);
    await check('grants on another organization\'s catalog rows', `SELECT count(*) AS n FROM agent_model_access a JOIN agent_catalog c ON c.id = a.catalog_id WHERE c.organization_id IS NOT NULL AND c.organization_id <> a.organization_id`);
    await check('workspace grants across organizations', `SELECT count(*) AS n FROM agent_model_access a JOIN workspace w ON w.id = a.workspace_id WHERE w.organization_id <> a.organization_id`);
    await check('providers left RUNNING', `SELECT count(*) AS n FROM agent_custom_provider WHERE discovery_status = 'RUNNING'`);
    for (const org of orgs) {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM agent_catalog WHERE organization_id = $1 OR organization_id IS NULL`, [org.id]);
      const api = await call('catalogEntries(count)', org.token, '{catalogEntries(first:1){totalCount}}');
      if (api.data?.catalogEntries.totalCount !== Number(rows[0]!.n)) violations.push(`catalog count mismatch for ${org.id}`);
    }
    await db.end();

    const byOperation: Record<string, Record<string, number>> = {};
    for (const outcome of outcomes) {
      const key = outcome.code ?? String(outcome.status);
      byOperation[outcome.operation] ??= {};
      byOperation[outcome.operation]![key] = (byOperation[outcome.operation]![key] ?? 0) + 1;
    }
    const serverErrors = outcomes.filter((o) => o.status >= 500 || o.code === 'INTERNAL_SERVER_ERROR').length;
    const report = {
      seconds: elapsed,
      concurrency: CONCURRENCY,
      organizations: ORGS,
      requests: outcomes.length,
      requestsPerSecond: Math.round(outcomes.length / elapsed),
      serverErrors,
      violations,
      byOperation,
    };
    fs.mkdirSync('reports', { recursive: true });
    fs.writeFileSync('reports/soak-report.json', `${JSON.stringify(report, null, 2)}\n`);
    const lines = [
      `# Soak report`,
      ``,
      `${report.requests} requests in ${elapsed.toFixed(1)} s (${report.requestsPerSecond}/s), concurrency ${CONCURRENCY}, ${ORGS} organizations.`,
      `Server errors (5xx or INTERNAL_SERVER_ERROR): **${serverErrors}**. Invariant violations: **${violations.length}**.`,
      ``,
      `| operation | outcomes |`,
      `| --- | --- |`,
      ...Object.entries(byOperation).map(([op, counts]) => `| ${op} | ${Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ')} |`),
      ...(violations.length ? ['', '## Violations', ...violations.map((v) => `- ${v}`)] : []),
    ];
    fs.writeFileSync('reports/soak-report.md', `${lines.join('\n')}\n`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (serverErrors > 0 || violations.length > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    provider.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
