import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type GraphQLResponse, type TestApp } from '../support/harness.ts';
import { databaseProxy } from '../support/database-proxy.ts';

// Lost database connections exist only on PostgreSQL; PGlite runs in the process.
const onPostgres = !!process.env.DATABASE_URL;

interface Answer extends GraphQLResponse<Record<string, any>> {
  retryAfter: string | null;
}

async function send(t: TestApp, token: string, query: string, variables: Record<string, unknown> = {}): Promise<Answer> {
  const response = await t.app.fetch('http://test.local/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as GraphQLResponse<Record<string, any>>;
  return { ...body, status: response.status, retryAfter: response.headers.get('retry-after') };
}

const CREATE_ENTRY = `mutation($name: String!) {
  createCatalogEntry(input: { modelName: $name, config: { vertexAi: { vertexModel: $name } } }) { catalogEntry { databaseId } modelAccess { id } }
}`;
const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id } } }';
const READ = '{ workspaces { totalCount } catalogEntries(first: 5) { edges { node { id modelName enabledForOrganization } } } }';

describe.skipIf(!onPostgres)('a connection lost at a known point', () => {
  let direct: TestApp;
  let proxy: Awaited<ReturnType<typeof databaseProxy>>;
  let t: TestApp;
  let token: string;
  let organizationId: string;

  beforeAll(async () => {
    // A database of our own, reached through a proxy that cuts connections on cue.
    direct = await startTestApp();
    proxy = await databaseProxy(new URL(direct.config.DATABASE_URL!));
    t = await startTestApp({ DATABASE_URL: proxy.url, RATE_LIMIT_POINTS: '0' });
    ({ id: organizationId, token } = await t.organization());
    // Confirms the token's organization once (cached), so later requests send only their
    // own statements; asked twice, READ's answer is in the response cache.
    for (let i = 0; i < 2; i++) ok(await send(t, token, READ));
  });
  afterAll(async () => {
    await t.close();
    proxy.close();
    await direct.close();
  });

  const entryNamed = (modelName: string) => direct.services.database.prisma.agentCatalog.findFirst({ where: { organizationId, modelName } });

  it('runs a read whose connection died again on a fresh one, transparently', async () => {
    const cut = proxy.cutAt(/FROM "public"\."workspace"/, 'before');
    // A document of its own: an answer from the response cache would read no workspace.
    const answer = await send(t, token, '{ workspaces(first: 3) { totalCount } }');
    await cut;
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.workspaces.totalCount).toBe(0);
    expect(t.logs.join('\n')).toMatch(/database connection lost during a query: running it again/);
  });

  it('sends the response cache\'s check again on a fresh connection when its connection died', async () => {
    const cut = proxy.cutAt(/change_feed_changed_since/, 'before');
    const answer = await send(t, token, READ);
    await cut;
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.workspaces.totalCount).toBe(0);
  });

  it('answers a write lost before COMMIT with a retryable error; nothing was stored, and a retry succeeds', async () => {
    const cut = proxy.cutAt(/INSERT INTO "public"\."agent_catalog"/, 'before');
    const answer = await send(t, token, CREATE_ENTRY, { name: 'lost-before-commit' });
    await cut;
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('1');
    expect(answer.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', retryable: true, requestId: expect.any(String) });
    expect(answer.errors?.[0]?.message).toMatch(/nothing was changed/);
    expect(await entryNamed('lost-before-commit')).toBeNull();
    ok(await send(t, token, CREATE_ENTRY, { name: 'lost-before-commit' }));
  });

  it('says the outcome is unknown when COMMIT was in flight, and that a repeatable create may be retried (CONFLICT if it landed)', async () => {
    const cut = proxy.cutAt(/COMMIT/, 'after');
    const answer = await send(t, token, CREATE_ENTRY, { name: 'lost-during-commit' });
    await cut;
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('1');
    expect(answer.errors?.[0]?.extensions).toEqual({
      code: 'INTERNAL_SERVER_ERROR',
      outcome: 'unknown',
      retryable: true,
      requestId: expect.any(String),
    });
    // PostgreSQL committed it: only the answer was lost.
    const stored = await entryNamed('lost-during-commit');
    expect(stored).not.toBeNull();
    const retried = await send(t, token, CREATE_ENTRY, { name: 'lost-during-commit' });
    expect(retried.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // No FAILURE was recorded beside the SUCCESS that committed.
    const events = await direct.services.database.prisma.auditEvent.findMany({ where: { organizationId, resourceId: stored!.id } });
    expect(events.map((e) => e.status)).toEqual(['SUCCESS']);
  });

  it('does not invite a blind retry of a create that would make a duplicate', async () => {
    const cut = proxy.cutAt(/COMMIT/, 'after');
    const answer = await send(t, token, CREATE_WORKSPACE, { name: 'lost workspace' });
    await cut;
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBeNull();
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', outcome: 'unknown', retryable: false });
    expect(answer.errors?.[0]?.message).toMatch(/Check whether it was applied/);
  });

  it('keeps readiness true: dead pooled connections are dropped, not reported', async () => {
    const cut = proxy.cutAt(/SELECT 1/, 'before');
    expect((await t.app.fetch('http://test.local/readyz')).status).toBe(200);
    await cut;
    ok(await send(t, token, READ));
  });
});

describe.skipIf(!onPostgres)('backends terminated under load', () => {
  let t: TestApp;
  let token: string;
  let organizationId: string;
  let admin: pg.Client;

  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_POINTS: '0', DATABASE_POOL_SIZE: '5' });
    ({ id: organizationId, token } = await t.organization());
    admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await t.close();
  });

  it('answers success or a retryable / unknown-outcome error, loses no acknowledged write, half-applies none, and recovers', async () => {
    const database = new URL(t.config.DATABASE_URL!).pathname.slice(1);
    // Only this test's database: other tests share the server.
    const terminate = () =>
      admin.query('SELECT count(pg_terminate_backend(pid))::int AS killed FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
    const answers: { startedAt: number; kind: 'read' | 'write'; name?: string; answer: Answer }[] = [];
    let running = true;
    const worker = async (index: number) => {
      for (let n = 0; running; n++) {
        const write = n % 3 === 0;
        const name = `w${index}-${n}`;
        const startedAt = Date.now();
        const answer = write ? await send(t, token, CREATE_ENTRY, { name }) : await send(t, token, READ);
        answers.push({ startedAt, kind: write ? 'write' : 'read', name: write ? name : undefined, answer });
      }
    };
    const workers = Array.from({ length: 8 }, (_, index) => worker(index));
    let killed = 0;
    let lastKill = 0;
    for (let round = 0; round < 8; round++) {
      await new Promise((r) => setTimeout(r, 1500));
      killed += (await terminate()).rows[0].killed;
      lastKill = Date.now();
    }
    await new Promise((r) => setTimeout(r, 6000));
    running = false;
    await Promise.all(workers);

    expect(killed).toBeGreaterThan(8);
    const failures = answers.filter((a) => a.answer.errors?.length);
    for (const { answer } of failures) {
      for (const error of answer.errors!) {
        const extensions = error.extensions ?? {};
        expect(extensions.retryable === true || extensions.outcome === 'unknown', JSON.stringify(error)).toBe(true);
      }
      expect([200, 503]).toContain(answer.status);
    }
    // Every request started 5 s after the last kill succeeded.
    const late = answers.filter((a) => a.startedAt >= lastKill + 5000);
    expect(late.length).toBeGreaterThan(8);
    expect(late.filter((a) => a.answer.errors?.length).map((a) => a.answer.errors)).toEqual([]);

    const prisma = t.services.database.prisma;
    const rows = await prisma.agentCatalog.findMany({ where: { organizationId }, include: { access: true } });
    const stored = new Set(rows.map((row) => row.modelName));
    const acknowledged = answers.filter((a) => a.kind === 'write' && !a.answer.errors?.length).map((a) => a.name!);
    expect(acknowledged.length).toBeGreaterThan(20);
    for (const name of acknowledged) expect(stored.has(name), `acknowledged ${name} is missing`).toBe(true);
    // Writes that failed before COMMIT left nothing behind.
    const refused = answers.filter((a) => a.kind === 'write' && a.answer.errors?.length && a.answer.errors[0]!.extensions?.outcome !== 'unknown');
    for (const { name } of refused) expect(stored.has(name!), `refused ${name} was stored`).toBe(false);
    // Every stored entry came with its grant and its audit record, in the same transaction.
    const audited = new Set(
      (await prisma.auditEvent.findMany({ where: { organizationId, resourceType: 'agent_catalog', status: 'SUCCESS' } })).map((e) => e.resourceId),
    );
    for (const row of rows) {
      expect(row.access.filter((grant) => grant.workspaceId === null), row.modelName).toHaveLength(1);
      expect(audited.has(row.id), row.modelName).toBe(true);
    }
    expect((await t.app.fetch('http://test.local/readyz')).status).toBe(200);
  }, 60_000);
});
