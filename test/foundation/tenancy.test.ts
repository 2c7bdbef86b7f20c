import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryOnConnection, scopedTransaction, type Tx } from '../../src/db/scope.ts';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { fetchCatalogPageEntries } from '../../src/modules/catalog/page-sql.ts';
import { newestFirst } from '../../src/graphql/pagination.ts';
import { RequestDb } from '../../src/graphql/context.ts';
import { forbidden } from '../../src/graphql/errors.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { CreateWorkspaceDocument, DeleteWorkspaceDocument, NodeDocument, NodesDocument, CreateOrganizationDocument } from '../generated/graphql.ts';

let t: TestApp;
let a: { id: string; token: string };
let b: { id: string; token: string };
let aWorkspace: { id: string; databaseId: string };

beforeAll(async () => {
  t = await startTestApp();
  a = await t.organization('A');
  b = await t.organization('B');
  aWorkspace = ok(await t.request(CreateWorkspaceDocument, { name: 'A space' }, { token: a.token })).createWorkspace.workspace;
  ok(await t.request(CreateWorkspaceDocument, { name: 'B space' }, { token: b.token }));
});
afterAll(() => t.close());

describe('tenant isolation', () => {
  it('hides another organization and its workspaces from node() and nodes()', async () => {
    const orgId = encodeGlobalId('Organization', a.id);
    expect(ok(await t.request(NodeDocument, { id: aWorkspace.id }, { token: b.token })).node).toBeNull();
    expect(ok(await t.request(NodeDocument, { id: orgId }, { token: b.token })).node).toBeNull();
    expect(ok(await t.request(NodesDocument, { ids: [aWorkspace.id, orgId] }, { token: b.token })).nodes).toEqual([null, null]);
    expect(ok(await t.request(NodeDocument, { id: aWorkspace.id }, { token: a.token })).node).toMatchObject({ name: 'A space' });
  });

  it('checks every row of a catalog page, should row-level security ever let another organization\'s entry through', async () => {
    await t.services.database.withSession((session) =>
      session.query(`INSERT INTO agent_catalog (organization_id, model_provider, model_name) VALUES ($1::uuid, 'openai', 'a-only')`, [a.id]),
    );
    // A's transaction sees A's entry; a page asked for B over it must refuse it rather than show it.
    const page = (organizationId: string) =>
      scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: a.id }, (tx) =>
        fetchCatalogPageEntries(tx, { organizationId, where: Prisma.sql`c.model_name = 'a-only'`, byValue: false, ordering: newestFirst('catalog:created:desc'), keyset: { backward: false, take: 5 }, needs: new Set() }),
      );
    expect((await page(a.id)).map((entry) => entry.modelName)).toEqual(['a-only']);
    await expect(page(b.id)).rejects.toThrow(/another organization/);
  });

  it('refuses to delete another organization\'s workspace', async () => {
    expect(codes(await t.request(DeleteWorkspaceDocument, { id: aWorkspace.id }, { token: b.token }))).toEqual(['NOT_FOUND']);
    expect(await t.services.database.prisma.workspace.count({ where: { id: aWorkspace.databaseId } })).toBe(1);
  });

  it('hides other tenants through row-level security alone, as a restricted role', async () => {
    const prisma = t.services.database.prisma;
    const rows = await scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ organization_id: string }[]>`SELECT organization_id::text FROM workspace`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.organization_id === b.id)).toBe(true);
    const orgs = await scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM organization`,
    );
    expect(orgs).toEqual([{ id: b.id }]);
    const [role] = await scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
      tx.$queryRaw<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }[]>`
        SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`,
    );
    expect(role).toEqual({ current_user: 'mcp_app', rolsuper: false, rolbypassrls: false });
    await expect(
      scopedTransaction(prisma, { kind: 'tenant', organizationId: b.id }, (tx) =>
        tx.$executeRaw`INSERT INTO workspace (organization_id, name) VALUES (${a.id}::uuid, 'intruder')`,
      ),
    ).rejects.toThrow();
    const bound = await scopedTransaction(prisma, { kind: 'tenant', organizationId: a.id, workspaceId: aWorkspace.databaseId }, (tx) =>
      tx.$queryRaw<{ id: string }[]>`SELECT id::text FROM workspace`,
    );
    expect(bound).toEqual([{ id: aWorkspace.databaseId }]);
  });
});

describe('transaction scope', () => {
  it('gives each of many concurrent transactions its own scope', async () => {
    const prisma = t.services.database.prisma;
    const scopes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a.id : b.id));
    const seen = await Promise.all(
      scopes.map((organizationId) =>
        scopedTransaction(prisma, { kind: 'tenant', organizationId }, async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          const [row] = await tx.$queryRaw<{ org: string; role: string }[]>`
            SELECT current_setting('app.current_org_id') AS org, current_user AS role`;
          return row;
        }),
      ),
    );
    expect(seen).toEqual(scopes.map((org) => ({ org, role: 'mcp_app' })));
  });

  it('replaces a shared query transaction that a failed statement aborted, and keeps it after a refusal', async () => {
    const db = new RequestDb(t.services.database.prisma, { subject: 's', actorType: 'USER', organizationId: b.id, workspaceId: null, scopes: ['agent:read'], expiresAt: null });
    const transactionId = (tx: Tx) => tx.$queryRaw<{ id: string }[]>`SELECT txid_current()::text AS id`.then(([row]) => row!.id);
    db.shareReads();
    const first = await db.transaction(transactionId);
    await expect(db.transaction(async () => { throw forbidden('no'); })).rejects.toThrow('no');
    expect(await db.transaction(transactionId)).toBe(first);
    await expect(db.transaction((tx) => tx.$queryRaw`SELECT 1 / 0`)).rejects.toThrow();
    expect(await db.transaction(transactionId)).not.toBe(first);
    const names = await db.transaction((tx) => tx.workspace.findMany({ select: { name: true } }));
    expect(names).toEqual([{ name: 'B space' }]);
    await db.endSharedReads();
  });

  it('sends a statement to the connection of a transaction in its scope, and refuses it once the transaction has ended', async () => {
    const prisma = t.services.database.prisma;
    let ended: Tx | undefined;
    const rows = await scopedTransaction(prisma, { kind: 'tenant', organizationId: a.id }, async (tx) => {
      ended = tx;
      const [{ id: prismaTransaction }] = await tx.$queryRaw<[{ id: string }]>`SELECT txid_current()::text AS id`;
      const direct = await queryOnConnection(
        tx,
        Prisma.sql`SELECT current_setting('app.current_org_id'), current_user::text, txid_current()::text, (SELECT count(*)::int FROM workspace), ${'x'}::text`,
      );
      return { prismaTransaction, direct };
    });
    // The same transaction as Prisma's statements, as mcp_app, with row-level security: A's one workspace.
    expect(rows.direct).toEqual([[a.id, 'mcp_app', rows.prismaTransaction, 1, 'x']]);
    await expect(queryOnConnection(ended!, Prisma.sql`SELECT 1`)).rejects.toThrow(/already closed/);
  });

  it('refuses a transaction started without a scope instead of running it unscoped', async () => {
    const prisma = t.services.database.prisma;
    await expect(prisma.$transaction(async (tx) => tx.$queryRaw`SELECT 1`)).rejects.toThrow(/scopedTransaction/);
  });
});

describe('organizations and workspaces', () => {
  it('creates organizations only for platform admins', async () => {
    const tenant = await t.token({ organizationId: a.id, scopes: ['workspace:create'] });
    expect(codes(await t.request(CreateOrganizationDocument, { name: 'X' }, { token: tenant }))).toEqual(['FORBIDDEN']);
    const admin = await t.token({ scopes: ['platform:admin'] });
    const created = ok(await t.request(CreateOrganizationDocument, { name: '  New org  ' }, { token: admin })).createOrganization.organization;
    expect(created.name).toBe('New org');
  });

  it('validates workspace names and IDs', async () => {
    for (const name of ['', '   ', 'x'.repeat(201), 'tab\u0007bell']) {
      const response = await t.request(CreateWorkspaceDocument, { name }, { token: a.token });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'name' });
    }
    for (const id of [aWorkspace.databaseId, encodeGlobalId('Organization', a.id)]) {
      expect(codes(await t.request(DeleteWorkspaceDocument, { id }, { token: a.token }))).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('deletes a workspace, answering its global ID, and audits each mutation once', async () => {
    const created = ok(await t.request(CreateWorkspaceDocument, { name: 'temp' }, { token: a.token })).createWorkspace.workspace;
    expect(ok(await t.request(DeleteWorkspaceDocument, { id: created.id }, { token: a.token })).deleteWorkspace.deletedId).toBe(created.id);
    expect(codes(await t.request(DeleteWorkspaceDocument, { id: created.id }, { token: a.token }))).toEqual(['NOT_FOUND']);
    const noScope = await t.token({ organizationId: a.id, scopes: ['agent:read'] });
    expect(codes(await t.request(DeleteWorkspaceDocument, { id: aWorkspace.id }, { token: noScope }))).toEqual(['FORBIDDEN']);
    const events = await t.services.database.prisma.auditEvent.findMany({
      where: { organizationId: a.id, resourceType: 'workspace', resourceId: { in: [created.databaseId, aWorkspace.databaseId] } },
    });
    const summary = events.map((e) => `${e.action}:${e.status}:${e.errorCode ?? ''}:${e.resourceId === created.databaseId ? 'temp' : 'kept'}`).sort();
    expect(summary).toEqual(['create:SUCCESS::kept', 'create:SUCCESS::temp', 'delete:FAILURE:NOT_FOUND:temp', 'delete:SUCCESS::temp']);
    // A refusal by scope happens before the input is read: recorded without a resource id.
    const refused = await t.services.database.prisma.auditEvent.findMany({
      where: { organizationId: a.id, resourceType: 'workspace', action: 'delete', errorCode: 'FORBIDDEN' },
    });
    expect(refused).toHaveLength(1);
  });
});
