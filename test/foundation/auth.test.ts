import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startTestApp, ok, codes, JWT_SECRET, type TestApp } from '../support/harness.ts';
import { ORGANIZATION_SCOPES, SCOPES } from '../../src/security/auth.ts';
import { ViewerDocument, WorkspacesDocument, CreateWorkspaceDocument, NodeDocument } from '../generated/graphql.ts';

let t: TestApp;
let org: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  org = await t.organization('Acme');
});
afterAll(() => t.close());

const sign = (claims: Record<string, unknown>, secret = JWT_SECRET, expires: string | number = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expires)
    .sign(new TextEncoder().encode(secret));

describe('token verification', () => {
  it('accepts a valid token and exposes its claims through viewer', async () => {
    const token = await t.token({ organizationId: org.id, scopes: ['agent:read', 'audit:read'], subject: 'alice' });
    const data = ok(await t.request(ViewerDocument, {}, { token }));
    expect(data.viewer).toMatchObject({
      subject: 'alice',
      actorType: 'USER',
      scopes: ['agent:read', 'audit:read'],
      workspaceId: null,
      organization: { databaseId: org.id, name: 'Acme' },
    });
  });

  it('reports service actors', async () => {
    const token = await t.token({ organizationId: org.id, actorType: 'service' });
    expect(ok(await t.request(ViewerDocument, {}, { token })).viewer.actorType).toBe('SERVICE');
  });

  it.each([
    ['no token', null],
    ['a malformed token', 'not-a-jwt'],
  ])('answers 401 UNAUTHENTICATED for %s', async (_label, token) => {
    const response = await t.request(ViewerDocument, {}, { token });
    expect(response.status).toBe(401);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await sign({ sub: 'x', org_id: org.id }, 'another-secret-of-sufficient-length-000');
    const response = await t.request(ViewerDocument, {}, { token });
    expect(response.status).toBe(401);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses an expired token', async () => {
    const token = await sign({ sub: 'x', org_id: org.id }, JWT_SECRET, Math.floor(Date.now() / 1000) - 60);
    const response = await t.request(ViewerDocument, {}, { token });
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.message).toMatch(/expired/);
  });

  it('stops accepting a token once it expires, although it was accepted before', async () => {
    // Expires at the start of the second after next: accepted now, refused 2 s on.
    const expiry = Math.floor(Date.now() / 1000) + 2;
    const token = await sign({ sub: 'x', org_id: org.id, scope: '*' }, JWT_SECRET, expiry);
    expect(ok(await t.request(ViewerDocument, {}, { token })).viewer.subject).toBe('x');
    await new Promise((resolve) => setTimeout(resolve, expiry * 1000 - Date.now() + 50));
    const response = await t.request(ViewerDocument, {}, { token });
    expect(response.status).toBe(401);
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a token without a subject or with a malformed org_id', async () => {
    for (const claims of [{ org_id: org.id }, { sub: 'x', org_id: 'not-a-uuid' }, { sub: '', org_id: org.id }]) {
      const response = await t.request(ViewerDocument, {}, { token: await sign(claims) });
      expect(response.status).toBe(401);
    }
  });

  it('refuses an unsigned (alg none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'x', org_id: org.id, scope: '*' })).toString('base64url');
    const response = await t.request(ViewerDocument, {}, { token: `${header}.${payload}.` });
    expect(response.status).toBe(401);
  });

  it('answers FORBIDDEN for a token naming an organization that does not exist', async () => {
    const token = await t.token({ organizationId: '00000000-0000-4000-8000-000000000000' });
    expect(codes(await t.request(ViewerDocument, {}, { token }))).toEqual(['FORBIDDEN']);
  });
});

describe('scopes', () => {
  it('refuses a field whose scope is missing, naming required and missing scopes', async () => {
    const token = await t.token({ organizationId: org.id, scopes: ['agent:create'] });
    const response = await t.request(WorkspacesDocument, {}, { token });
    expect(response.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      requiredScopes: ['agent:read'],
      missingScopes: ['agent:read'],
    });
  });

  it('accepts a token holding exactly the declared scopes, and * for all', async () => {
    const exact = await t.token({ organizationId: org.id, scopes: ['workspace:create'] });
    ok(await t.request(CreateWorkspaceDocument, { name: 'exact' }, { token: exact }));
    const all = await t.token({ organizationId: org.id, scopes: ['*'] });
    expect(ok(await t.request(WorkspacesDocument, {}, { token: all })).workspaces.totalCount).toBeGreaterThan(0);
  });

  it('refuses organization-scoped operations to a platform-admin token without org_id', async () => {
    const admin = await t.token({ scopes: ['platform:admin', 'agent:read'] });
    const response = await t.request(WorkspacesDocument, {}, { token: admin });
    expect(codes(response)).toEqual(['FORBIDDEN']);
    expect(ok(await t.request(ViewerDocument, {}, { token: admin })).viewer.organization).toBeNull();
  });
});

describe('platform scope (SPEC §17)', () => {
  const UPSERT_GPT_4O =
    'mutation { upsertPlatformCatalog(input: { entries: [{ modelProvider: "openai", modelName: "gpt-4o", metadata: { supports_vision: false, max_input_tokens: 1 } }] }) { insertedCount updatedCount } }';
  const GPT_4O = '{ catalogEntries(filter: { provider: "openai", modelNameContains: "gpt-4o" }) { edges { node { modelName limits { maxInputTokens } } } } }';
  const CREATE_ORGANIZATION = 'mutation($name: String!) { createOrganization(input: { name: $name }) { organization { databaseId } } }';
  const organizations = () => t.services.database.prisma.organization.count();

  it('an organization\'s * token holds every organization scope, spelled out, and never platform:admin', async () => {
    const all = await t.token({ organizationId: org.id, scopes: ['*'] });
    const scopes = ok(await t.request<any>('{ viewer { scopes } }', {}, { token: all })).viewer.scopes;
    expect(scopes).toEqual([...ORGANIZATION_SCOPES]);
    expect(scopes).toContain('webhooks:manage');
    expect(scopes).not.toContain('platform:admin');
  });

  it('ignores platform:admin spelled out on an organization\'s token, and names that are no scope', async () => {
    const token = await t.token({ organizationId: org.id, scopes: ['platform:admin', 'agent:read', 'made:up'] });
    expect(ok(await t.request<any>('{ viewer { scopes } }', {}, { token })).viewer.scopes).toEqual(['agent:read']);
  });

  it('a token without org_id holds platform:admin when it names it or *', async () => {
    const named = await t.token({ scopes: ['platform:admin'] });
    expect(ok(await t.request<any>('{ viewer { scopes organization { name } } }', {}, { token: named })).viewer).toEqual({
      scopes: ['platform:admin'],
      organization: null,
    });
    const all = await t.token({ scopes: ['*'] });
    expect(ok(await t.request<any>('{ viewer { scopes } }', {}, { token: all })).viewer.scopes).toEqual([...SCOPES]);
  });

  it('refuses upsertPlatformCatalog to an organization\'s token (*, platform:admin, workspace-bound): another tenant sees nothing change', async () => {
    const other = await t.organization('Other tenant');
    const before = ok(await t.request(GPT_4O, {}, { token: other.token }));
    const { databaseId: workspaceId } = ok(await t.request<any>(CreateWorkspaceDocument, { name: 'platform-probe' }, { token: org.token }))
      .createWorkspace.workspace;
    const tokens = [
      await t.token({ organizationId: org.id, scopes: ['*'] }),
      await t.token({ organizationId: org.id, scopes: ['platform:admin'] }),
      await t.token({ organizationId: org.id, scopes: ['*', 'platform:admin'] }),
      await t.token({ organizationId: org.id, workspaceId, scopes: ['*', 'platform:admin'] }),
    ];
    for (const token of tokens) {
      const response = await t.request(UPSERT_GPT_4O, {}, { token });
      expect(response.data).toBeNull();
      expect(codes(response)).toEqual(['FORBIDDEN']);
    }
    expect((await t.request(UPSERT_GPT_4O, {}, { token: tokens[0] })).errors?.[0]?.extensions).toMatchObject({
      requiredScopes: ['platform:admin'],
      missingScopes: ['platform:admin'],
    });
    expect(ok(await t.request(GPT_4O, {}, { token: other.token }))).toEqual(before);
  });

  it('refuses createOrganization to an organization\'s token; a platform token creates one', async () => {
    const count = await organizations();
    for (const scopes of [['*'], ['platform:admin'], [...SCOPES]]) {
      const token = await t.token({ organizationId: org.id, scopes });
      expect(codes(await t.request(CREATE_ORGANIZATION, { name: 'Tenant-made' }, { token }))).toEqual(['FORBIDDEN']);
    }
    expect(await organizations()).toBe(count);
    const platform = await t.token({ scopes: ['*'] });
    expect(ok(await t.request<any>(CREATE_ORGANIZATION, { name: 'Platform-made' }, { token: platform })).createOrganization.organization.databaseId)
      .toEqual(expect.any(String));
    expect(await organizations()).toBe(count + 1);
  });
});

describe('workspace-bound tokens', () => {
  it('may use viewer but not organization-wide fields, node() or mutations', async () => {
    const created = ok(await t.request(CreateWorkspaceDocument, { name: 'bound' }, { token: org.token }));
    const workspaceId = created.createWorkspace.workspace.databaseId;
    const token = await t.token({ organizationId: org.id, workspaceId });
    expect(ok(await t.request(ViewerDocument, {}, { token })).viewer.workspaceId).toBe(workspaceId);
    expect(codes(await t.request(WorkspacesDocument, {}, { token }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(NodeDocument, { id: created.createWorkspace.workspace.id }, { token }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(CreateWorkspaceDocument, { name: 'x' }, { token }))).toEqual(['FORBIDDEN']);
  });

  it('is refused when its workspace does not exist in its organization', async () => {
    const token = await t.token({ organizationId: org.id, workspaceId: '00000000-0000-4000-8000-000000000001' });
    expect(codes(await t.request(ViewerDocument, {}, { token }))).toEqual(['FORBIDDEN']);
  });
});

describe('issuer, audience and JWKS', () => {
  it('checks issuer and audience when configured', async () => {
    const app = await startTestApp({ AUTH_ISSUER: 'https://issuer.test', AUTH_AUDIENCE: 'mcp' });
    try {
      const { id } = await app.organization();
      const good = await app.token({ organizationId: id, issuer: 'https://issuer.test', audience: 'mcp' });
      ok(await app.request(ViewerDocument, {}, { token: good }));
      const wrongIssuer = await app.token({ organizationId: id, issuer: 'https://other.test', audience: 'mcp' });
      expect((await app.request(ViewerDocument, {}, { token: wrongIssuer })).status).toBe(401);
      const noAudience = await app.token({ organizationId: id, issuer: 'https://issuer.test' });
      expect((await app.request(ViewerDocument, {}, { token: noAudience })).status).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('verifies RS256 tokens against a key set served over HTTP', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const app = await startTestApp({ AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` });
    try {
      const { id } = await app.organization();
      const token = await new SignJWT({ org_id: id, scope: 'agent:read' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('rs').setExpirationTime('1h').sign(privateKey);
      expect(ok(await app.request(ViewerDocument, {}, { token })).viewer.subject).toBe('rs');
      // An HS256 token is no longer accepted once a key set is configured.
      const hs = await sign({ sub: 'x', org_id: id });
      expect((await app.request(ViewerDocument, {}, { token: hs })).status).toBe(401);
    } finally {
      await app.close();
      server.close();
    }
  });
});
