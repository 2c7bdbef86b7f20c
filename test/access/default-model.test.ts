import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import {
  DefaultModelSelectionDocument,
  DisableModelDocument,
  SetDefaultModelDocument,
} from '../generated/graphql.ts';
import { catalogGid, fixtures, enableThroughApi } from './fixtures.ts';

let t: TestApp;
let f: ReturnType<typeof fixtures>;

const CATALOG_ID_KEY = 'agent_default_model_catalog_id';
const LEGACY_NAME_KEY = 'agent_default_model';

beforeAll(async () => {
  t = await startTestApp();
  f = fixtures(t);
});
afterAll(() => t.close());

const enable = (token: string, catalogId: string, workspaceId?: string) => enableThroughApi(t, token, catalogId, workspaceId);

const selection = async (token: string) =>
  ok(await t.request(DefaultModelSelectionDocument, {}, { token })).defaultModelSelection;

const setDefault = (catalogEntryId: string, token: string) =>
  t.request(SetDefaultModelDocument, { catalogEntryId }, { token });

describe('setDefaultModel', () => {
  it('stores the catalog id and the model name together and reads them back', async () => {
    const org = await t.organization('Default');
    const provider = await f.customProvider(org.id);
    const entry = await f.customEntry(org.id, provider.id, 'gw-model');
    await enable(org.token, entry.id);
    expect(await selection(org.token)).toBeNull();

    const set = ok(await setDefault(catalogGid(entry.id), org.token));
    const expected = {
      catalogId: entry.id,
      modelProvider: 'custom-model-provider',
      modelName: 'gw-model',
      customProviderId: provider.id,
      source: 'CATALOG_ID',
      catalogEntry: { databaseId: entry.id, origin: 'CUSTOM_PROVIDER' },
    };
    expect(set.setDefaultModel.defaultModelSelection).toMatchObject(expected);
    expect(await selection(org.token)).toMatchObject(expected);
    expect((await f.settingsOf(org.id)).map((row) => [row.key, row.value])).toEqual([
      [LEGACY_NAME_KEY, 'gw-model'],
      [CATALOG_ID_KEY, entry.id],
    ]);

    // Switching overwrites both keys.
    const next = await f.platformEntry('platform-default');
    await enable(org.token, next.id);
    ok(await setDefault(catalogGid(next.id), org.token));
    expect(await selection(org.token)).toMatchObject({ catalogId: next.id, customProviderId: null, source: 'CATALOG_ID' });
    expect((await f.settingsOf(org.id)).map((row) => [row.key, row.value])).toEqual([
      [LEGACY_NAME_KEY, 'platform-default'],
      [CATALOG_ID_KEY, next.id],
    ]);

    const audit = await f.auditEvents(org.id, 'agent_default_model');
    expect(audit.map((event) => [event.action, event.status, event.resourceId])).toEqual([
      ['update', 'SUCCESS', entry.id],
      ['update', 'SUCCESS', next.id],
    ]);
  });

  it('needs an organization-level grant: NOT_FOUND otherwise, also with only a workspace grant', async () => {
    const org = await t.organization('NoGrant');
    const workspace = await f.workspace(org.id);
    const ungranted = await f.orgEntry(org.id, 'ungranted');
    const workspaceOnly = await f.orgEntry(org.id, 'workspace-only');
    await enable(org.token, workspaceOnly.id, workspace.id);
    for (const id of [ungranted.id, workspaceOnly.id, '00000000-0000-4000-8000-00000000abcd']) {
      expect(codes(await setDefault(catalogGid(id), org.token))).toEqual(['NOT_FOUND']);
    }
    expect(codes(await setDefault(ungranted.id, org.token))).toEqual(['BAD_USER_INPUT']);
    expect(await f.settingsOf(org.id)).toEqual([]);
    const failures = await f.auditEvents(org.id, 'agent_default_model');
    expect(failures.map((event) => event.errorCode)).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'BAD_USER_INPUT']);
  });

  it('needs agent:update only; workspace-bound tokens may read but not set it', async () => {
    const org = await t.organization('Scopes');
    const workspace = await f.workspace(org.id);
    const entry = await f.orgEntry(org.id, 'scoped');
    await enable(org.token, entry.id);

    const updater = await t.token({ organizationId: org.id, scopes: ['agent:update'] });
    const set = ok(await setDefault(catalogGid(entry.id), updater));
    expect(set.setDefaultModel.defaultModelSelection).toMatchObject({ catalogId: entry.id, modelName: 'scoped' });

    const reader = await t.token({ organizationId: org.id, scopes: ['agent:read', 'agent:create'] });
    const refused = await setDefault(catalogGid(entry.id), reader);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['agent:update'] });
    expect(codes(await t.request(DefaultModelSelectionDocument, {}, { token: updater }))).toEqual(['FORBIDDEN']);

    const bound = await t.token({ organizationId: org.id, workspaceId: workspace.id, scopes: ['agent:read', 'agent:update'] });
    expect((await selection(bound))?.catalogId).toBe(entry.id);
    expect(codes(await setDefault(catalogGid(entry.id), bound))).toEqual(['FORBIDDEN']);
  });
});

describe('defaultModelSelection', () => {
  it('becomes null when the organization grant goes, and never switches to another model', async () => {
    const org = await t.organization('Stale');
    const entry = await f.orgEntry(org.id, 'same-name', 'bedrock');
    const twin = await f.orgEntry(org.id, 'same-name', 'vertex_ai');
    const grant = await enable(org.token, entry.id);
    await enable(org.token, twin.id);
    ok(await setDefault(catalogGid(entry.id), org.token));
    expect((await selection(org.token))?.catalogId).toBe(entry.id);

    ok(await t.request(DisableModelDocument, { id: grant.id }, { token: org.token }));
    // The legacy name still matches the twin, but a stored id never falls back to it.
    expect(await selection(org.token)).toBeNull();

    // Enabling it again brings the same default back.
    await enable(org.token, entry.id);
    expect((await selection(org.token))?.catalogId).toBe(entry.id);
  });

  it('becomes null when the entry is deleted', async () => {
    const org = await t.organization('Deleted');
    const entry = await f.orgEntry(org.id, 'doomed');
    await enable(org.token, entry.id);
    ok(await setDefault(catalogGid(entry.id), org.token));
    await f.deleteEntry(org.id, entry.id);
    expect(await selection(org.token)).toBeNull();
  });

  it('ignores workspace grants: only organization-enabled entries resolve', async () => {
    const org = await t.organization('WorkspaceOnly');
    const workspace = await f.workspace(org.id);
    const entry = await f.orgEntry(org.id, 'ws-default');
    const orgGrant = await enable(org.token, entry.id);
    await enable(org.token, entry.id, workspace.id);
    ok(await setDefault(catalogGid(entry.id), org.token));
    ok(await t.request(DisableModelDocument, { id: orgGrant.id }, { token: org.token }));
    expect(await selection(org.token)).toBeNull();
  });

  describe('legacy name-only defaults', () => {
    it('resolves the single organization-enabled match', async () => {
      const org = await t.organization('LegacySingle');
      const provider = await f.customProvider(org.id);
      const custom = await f.customEntry(org.id, provider.id, 'legacy-one');
      await f.orgEntry(org.id, 'legacy-one'); // same name, not enabled: does not count
      await enable(org.token, custom.id);
      await f.setting(org.id, LEGACY_NAME_KEY, 'legacy-one');
      expect(await selection(org.token)).toMatchObject({
        catalogId: custom.id,
        customProviderId: provider.id,
        source: 'LEGACY_MODEL_NAME',
      });
    });

    it('prefers the single non-custom match among several', async () => {
      const org = await t.organization('LegacySeveral');
      const providers = await Promise.all([f.customProvider(org.id), f.customProvider(org.id)]);
      const customs = await Promise.all(providers.map((provider) => f.customEntry(org.id, provider.id, 'legacy-many')));
      const own = await f.orgEntry(org.id, 'legacy-many', 'azure_openai');
      for (const entry of [...customs, own]) await enable(org.token, entry.id);
      await f.setting(org.id, LEGACY_NAME_KEY, 'legacy-many');
      expect(await selection(org.token)).toMatchObject({ catalogId: own.id, source: 'LEGACY_MODEL_NAME' });
    });

    it('answers null when ambiguous, unmatched or not enabled', async () => {
      const org = await t.organization('LegacyAmbiguous');
      const [a, b] = await Promise.all(['bedrock', 'vertex_ai'].map((provider) => f.orgEntry(org.id, 'legacy-amb', provider)));
      await enable(org.token, a.id);
      await enable(org.token, b.id);
      await f.setting(org.id, LEGACY_NAME_KEY, 'legacy-amb');
      expect(await selection(org.token)).toBeNull();

      await f.setting(org.id, LEGACY_NAME_KEY, 'no-such-model');
      expect(await selection(org.token)).toBeNull();

      const disabled = await f.orgEntry(org.id, 'legacy-disabled');
      await f.setting(org.id, LEGACY_NAME_KEY, disabled.modelName);
      expect(await selection(org.token)).toBeNull();
    });

    it('never uses the legacy name when a catalog id is stored, even a stale one', async () => {
      const org = await t.organization('LegacyStale');
      const entry = await f.orgEntry(org.id, 'legacy-stale');
      await enable(org.token, entry.id);
      await f.setting(org.id, LEGACY_NAME_KEY, 'legacy-stale');
      expect(await selection(org.token)).toMatchObject({ catalogId: entry.id, source: 'LEGACY_MODEL_NAME' });

      await f.setting(org.id, CATALOG_ID_KEY, '00000000-0000-4000-8000-00000000abcd');
      expect(await selection(org.token)).toBeNull();

      // A value that is no catalog id at all counts as no id.
      await f.setting(org.id, CATALOG_ID_KEY, 'garbage');
      expect(await selection(org.token)).toMatchObject({ catalogId: entry.id, source: 'LEGACY_MODEL_NAME' });
      await f.setting(org.id, CATALOG_ID_KEY, entry.id);
      expect(await selection(org.token)).toMatchObject({ catalogId: entry.id, source: 'CATALOG_ID' });
    });
  });

  it('is isolated per organization', async () => {
    const org = await t.organization('IsoA');
    const other = await t.organization('IsoB');
    const theirs = await f.orgEntry(other.id, 'their-default');
    await enable(other.token, theirs.id);
    ok(await setDefault(catalogGid(theirs.id), other.token));

    expect(await selection(org.token)).toBeNull();
    expect(codes(await setDefault(catalogGid(theirs.id), org.token))).toEqual(['NOT_FOUND']);
    // A legacy name or a stored id pointing at their entry resolves to nothing here.
    await f.setting(org.id, LEGACY_NAME_KEY, 'their-default');
    expect(await selection(org.token)).toBeNull();
    await f.setting(org.id, CATALOG_ID_KEY, theirs.id);
    expect(await selection(org.token)).toBeNull();

    expect((await selection(other.token))?.catalogId).toBe(theirs.id);
    expect((await f.settingsOf(other.id)).map((row) => row.value)).toEqual(['their-default', theirs.id]);
  });
});
