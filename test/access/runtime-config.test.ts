import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { EnableModelDocument, ResolvedModelConfigDocument } from '../generated/graphql.ts';
import { catalogGid, fixtures, workspaceGid } from './fixtures.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;
let org: { id: string; token: string };
let runtime: string;

const API_KEY = 'sk-runtime-secret-0123456789';
const HEADER_VALUE = 'tenant-header-secret-9876';

beforeAll(async () => {
  t = await startTestApp();
  f = fixtures(t);
  org = await t.organization('Runtime');
  runtime = await t.token({
    organizationId: org.id,
    actorType: 'service',
    subject: 'agent-runtime',
    scopes: ['agent:credentials:read'],
  });
});
afterAll(() => t.close());

async function enable(token: string, catalogId: string, workspaceId?: string) {
  ok(
    await t.request(
      EnableModelDocument,
      { catalogEntryId: catalogGid(catalogId), workspaceId: workspaceId ? workspaceGid(workspaceId) : null },
      { token },
    ),
  );
}

const resolve = (catalogId: string, workspaceId: string | null, token = runtime) =>
  t.request(
    ResolvedModelConfigDocument,
    { catalogEntryId: catalogGid(catalogId), workspaceId: workspaceId ? workspaceGid(workspaceId) : null },
    { token },
  );

async function credentialEvents(organizationId = org.id) {
  return f.auditEvents(organizationId, 'agent_credentials');
}

describe('resolvedModelConfig', () => {
  it('returns a custom-provider entry with its decrypted key and headers, and audits the read without them', async () => {
    const provider = await f.customProvider(org.id, {
      baseUrl: 'https://gateway.example.test/v1',
      apiKeyHeader: 'x-api-key',
      passthrough: true,
      secrets: { apiKey: API_KEY, customHeaders: [{ name: 'X-Tenant', value: HEADER_VALUE }] },
    });
    const entry = await f.customEntry(org.id, provider.id, 'gw-llama');
    const workspace = await f.workspace(org.id);
    await enable(org.token, entry.id);

    const before = (await credentialEvents()).length;
    for (const workspaceId of [workspace.id, null]) {
      const config = ok(await resolve(entry.id, workspaceId)).resolvedModelConfig;
      expect(config).toEqual({
        modelProvider: 'custom-model-provider',
        modelName: 'gw-llama',
        baseUrl: 'https://gateway.example.test/v1',
        passthrough: true,
        apiKeyHeader: 'x-api-key',
        apiKey: API_KEY,
        customHeaders: [{ name: 'X-Tenant', value: HEADER_VALUE }],
        catalogEntry: expect.objectContaining({ databaseId: entry.id, origin: 'CUSTOM_PROVIDER' }),
      });
    }

    const events = (await credentialEvents()).slice(before);
    const summary = events.map((event) => [
      event.action, event.status, event.resourceId, event.workspaceId, event.actorSubject, event.actorType,
    ]);
    expect(summary).toEqual([
        ['read', 'SUCCESS', entry.id, workspace.id, 'agent-runtime', 'SERVICE'],
        ['read', 'SUCCESS', entry.id, null, 'agent-runtime', 'SERVICE'],
      ]);
    const stored = JSON.stringify(await f.auditEvents(org.id, 'agent_credentials'));
    expect(stored).not.toContain(API_KEY);
    expect(stored).not.toContain(HEADER_VALUE);
    expect(t.logs.join('')).not.toContain(API_KEY);
    expect(t.logs.join('')).not.toContain(HEADER_VALUE);
  });

  it('returns no secrets for a custom provider without any, nor for platform and organization entries', async () => {
    const bare = await f.customProvider(org.id, { baseUrl: 'http://127.0.0.1:8000/v1' });
    const bareEntry = await f.customEntry(org.id, bare.id, 'bare-model');
    const platformEntry = await f.platformEntry('gpt-runtime', 'test-runtime-openai');
    const own = await f.orgEntry(org.id, 'cloud-runtime', 'vertex_ai');
    for (const entry of [bareEntry, platformEntry, own]) await enable(org.token, entry.id);

    expect(ok(await resolve(bareEntry.id, null)).resolvedModelConfig).toMatchObject({
      baseUrl: 'http://127.0.0.1:8000/v1',
      passthrough: false,
      apiKeyHeader: null,
      apiKey: null,
      customHeaders: [],
    });
    for (const [entry, provider] of [[platformEntry, 'test-runtime-openai'], [own, 'vertex_ai']] as const) {
      expect(ok(await resolve(entry.id, null)).resolvedModelConfig).toMatchObject({
        modelProvider: provider,
        modelName: entry.modelName,
        baseUrl: null,
        passthrough: false,
        apiKeyHeader: null,
        apiKey: null,
        customHeaders: [],
        catalogEntry: { databaseId: entry.id },
      });
    }
  });

  it('is FORBIDDEN for an entry that is not effective for the workspace, or not enabled for the organization', async () => {
    const provider = await f.customProvider(org.id, { secrets: { apiKey: API_KEY } });
    const orgWide = await f.customEntry(org.id, provider.id, 'org-wide');
    const override = await f.orgEntry(org.id, 'override-only');
    const neverEnabled = await f.orgEntry(org.id, 'never-enabled');
    const overriding = await f.workspace(org.id);
    const following = await f.workspace(org.id);
    await enable(org.token, orgWide.id);
    await enable(org.token, override.id, overriding.id);

    // The overriding workspace uses only its own grants.
    ok(await resolve(override.id, overriding.id));
    const refused = await resolve(orgWide.id, overriding.id);
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.data).toBeNull();
    expect(JSON.stringify(refused)).not.toContain(API_KEY);
    // The other workspace follows the organization.
    ok(await resolve(orgWide.id, following.id));
    expect(codes(await resolve(override.id, following.id))).toEqual(['FORBIDDEN']);
    // Without a workspace, organization-level grants decide.
    expect(codes(await resolve(override.id, null))).toEqual(['FORBIDDEN']);
    expect(codes(await resolve(neverEnabled.id, null))).toEqual(['FORBIDDEN']);
    expect(codes(await resolve(neverEnabled.id, following.id))).toEqual(['FORBIDDEN']);

    const failures = (await credentialEvents()).filter((event) => event.status === 'FAILURE' && event.resourceId === orgWide.id);
    expect(failures.map((event) => [event.action, event.errorCode, event.workspaceId]))
      .toEqual([['read', 'FORBIDDEN', overriding.id]]);
  });

  it('audits each read of one query on its own: a refusal does not undo the read beside it', async () => {
    const allowed = await f.orgEntry(org.id, 'pair-allowed');
    const refused = await f.orgEntry(org.id, 'pair-refused');
    await enable(org.token, allowed.id);
    const QUERY = `query($allowed: ID!, $refused: ID!) {
      refused: resolvedModelConfig(catalogEntryId: $refused) { modelName }
      allowed: resolvedModelConfig(catalogEntryId: $allowed) { modelName }
    }`;
    const response = await t.request<any>(QUERY, { allowed: catalogGid(allowed.id), refused: catalogGid(refused.id) }, { token: runtime });
    expect(codes(response)).toEqual(['FORBIDDEN']);
    // The field is non-null, so the refusal empties the whole answer; the allowed read still happened.
    expect(response.data).toBeNull();
    const events = (await credentialEvents()).filter((event) => [allowed.id, refused.id].includes(event.resourceId!));
    expect(events.map((event) => [event.resourceId, event.status, event.errorCode]).sort()).toEqual(
      [[allowed.id, 'SUCCESS', null], [refused.id, 'FAILURE', 'FORBIDDEN']].sort(),
    );
  });

  it('answers NOT_FOUND for invisible entries and unknown workspaces, BAD_USER_INPUT for raw ids', async () => {
    const other = await t.organization('Foreign');
    const theirProvider = await f.customProvider(other.id, { secrets: { apiKey: 'their-key-should-not-leak' } });
    const theirs = await f.customEntry(other.id, theirProvider.id, 'their-model');
    const theirWorkspace = await f.workspace(other.id);
    await enable(other.token, theirs.id);
    const mine = await f.orgEntry(org.id, 'visible-mine');
    await enable(org.token, mine.id);

    const foreign = await resolve(theirs.id, null);
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
    expect(JSON.stringify(foreign)).not.toContain('their-key-should-not-leak');
    expect(codes(await resolve('00000000-0000-4000-8000-00000000abcd', null))).toEqual(['NOT_FOUND']);
    expect(codes(await resolve(mine.id, theirWorkspace.id))).toEqual(['NOT_FOUND']);
    const rawId = await t.request(ResolvedModelConfigDocument, { catalogEntryId: mine.id }, { token: runtime });
    expect(codes(rawId)).toEqual(['BAD_USER_INPUT']);

    const failures = (await credentialEvents()).filter((event) => event.status === 'FAILURE').slice(-4);
    expect(failures.map((event) => event.errorCode)).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'BAD_USER_INPUT']);
    // Their organization keeps working, and saw none of these calls.
    const theirToken = await t.token({ organizationId: other.id, scopes: ['agent:credentials:read'] });
    const theirConfig = ok(await resolve(theirs.id, theirWorkspace.id, theirToken)).resolvedModelConfig;
    expect(theirConfig.apiKey).toBe('their-key-should-not-leak');
    expect((await credentialEvents(other.id)).map((event) => event.status)).toEqual(['SUCCESS']);
  });

  it('never hands a runtime a metadata-service baseUrl stored before save refused it: CONFLICT, audited, nothing returned', async () => {
    for (const baseUrl of ['http://169.254.169.254/latest', 'http://[::ffff:168.63.129.16]/v1', 'http://100.100.100.200/', 'http://metadata.google.internal/v1']) {
      const provider = await f.customProvider(org.id, { baseUrl, secrets: { apiKey: API_KEY } });
      const entry = await f.customEntry(org.id, provider.id, 'old-model');
      await f.grant(org.id, [entry.id]);
      const before = (await credentialEvents()).length;
      const response = await resolve(entry.id, null);
      expect(codes(response), baseUrl).toEqual(['CONFLICT']);
      expect(response.errors![0]!.message, baseUrl).toMatch(/^the provider's stored baseUrl is refused \(.*(metadata)/);
      expect(JSON.stringify(response), baseUrl).not.toContain(API_KEY);
      expect(response.data ?? null, baseUrl).toBeNull();
      const events = (await credentialEvents()).slice(before);
      expect(events.map((event) => [event.status, event.errorCode, event.resourceId]), baseUrl).toEqual([['FAILURE', 'CONFLICT', entry.id]]);
    }
  });

  it('lets a workspace-bound token resolve for its own workspace only', async () => {
    const entry = await f.orgEntry(org.id, 'bound-runtime');
    const other = await f.orgEntry(org.id, 'bound-other');
    const mine = await f.workspace(org.id);
    const theirs = await f.workspace(org.id);
    await enable(org.token, entry.id, mine.id);
    await enable(org.token, other.id);
    const bound = await t.token({ organizationId: org.id, workspaceId: mine.id, scopes: ['agent:credentials:read'] });

    // No workspaceId means its own workspace, whose override applies.
    expect(ok(await resolve(entry.id, null, bound)).resolvedModelConfig.modelName).toBe('bound-runtime');
    expect(ok(await resolve(entry.id, mine.id, bound)).resolvedModelConfig.modelName).toBe('bound-runtime');
    expect(codes(await resolve(other.id, null, bound))).toEqual(['FORBIDDEN']);
    expect(codes(await resolve(other.id, theirs.id, bound))).toEqual(['FORBIDDEN']);
    const events = (await credentialEvents()).slice(-4);
    expect(events.map((event) => [event.status, event.workspaceId])).toEqual([
      ['SUCCESS', mine.id],
      ['SUCCESS', mine.id],
      ['FAILURE', mine.id],
      ['FAILURE', theirs.id],
    ]);
  });

  it('needs agent:credentials:read, and audits the refusal', async () => {
    const entry = await f.orgEntry(org.id, 'scope-check');
    await enable(org.token, entry.id);
    const reader = await t.token({ organizationId: org.id, subject: 'reader', scopes: ['agent:read'] });
    const refused = await resolve(entry.id, null, reader);
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      requiredScopes: ['agent:credentials:read'],
      missingScopes: ['agent:credentials:read'],
    });
    const last = (await credentialEvents()).at(-1);
    expect(last).toMatchObject({ action: 'read', status: 'FAILURE', errorCode: 'FORBIDDEN', actorSubject: 'reader' });
  });
});
