// Proof suites generated from the schema: cross-tenant isolation, scopes, bad input, list bounds and
// secrecy, over every root field the service serves. A field added later is covered
// without touching this file; an ID argument whose type cannot be inferred fails the
// suite until it is taught here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, getNullableType, isListType, type GraphQLInputType } from "graphql";
import { SCOPES } from '../../src/security/auth.ts';
import { startTestApp, type GraphQLResponse, type TestApp } from '../support/harness.ts';
import { absentId, buildOperation, idSlots, listSlots, listValue, rootFields, slotType, type RootField } from './schema-walk.ts';
import { buildTenant, modelServer, snapshot, type Tenant } from './fixtures.ts';

let t: TestApp;
let a: Tenant;
let b: Tenant;
let server: Awaited<ReturnType<typeof modelServer>>;
/** Every response body of the run, for the secrecy check. */
const bodies: { field: string; body: string }[] = [];

/** Fields whose answers carry secrets by design (runtime configuration for agents). */
const SECRET_BEARING_FIELDS = new Set(['resolvedModelConfig']);

async function send(root: RootField, query: string, variables: Record<string, unknown>, token: string) {
  const response = await t.request(query, variables, { token });
  bodies.push({ field: root.field.name, body: JSON.stringify(response) });
  return response;
}

const roots = rootFields();

/** A token holding every scope `root` may be used with: a platform token (no org_id) for platform fields, else tenant b's. */
const allScopes = (root: RootField) =>
  t.token({ organizationId: root.requires.includes('platform:admin') ? undefined : b.organizationId, scopes: ['*'] });

beforeAll(async () => {
  // Generated selections are broad; the query limits have their own tests.
  t = await startTestApp({ RATE_LIMIT_POINTS: '0', MAX_QUERY_COST: '1000000', MAX_QUERY_DEPTH: '20', MAX_QUERY_ALIASES: '1000', MAX_QUERY_TOKENS: '100000' });
  server = await modelServer();
  a = await buildTenant(t, 'alpha', server.url);
  b = await buildTenant(t, 'beta', server.url);
}, 120_000);
afterAll(async () => {
  await t.close();
  await server.close();
});

describe('cross-tenant: another organization\'s IDs resolve to nothing and change nothing', () => {
  const cases = roots.flatMap((root) =>
    idSlots(root.field).map((slot) => ({ root, slot, label: `${root.field.name}(${slot.path.join('.')})` })),
  );

  it.each(cases)('$label', async ({ root, slot }) => {
    const type = slotType(root.field.name, slot.path);
    expect(type, `cannot infer the object type of ${root.field.name}(${slot.path.join('.')})`).not.toBeNull();
    const victimIds = type === '*' ? Object.values(a.ids).flat() : a.ids[type!]!;
    expect(victimIds?.length).toBeGreaterThan(0);
    const before = await snapshot(t, a.organizationId);
    for (const victim of victimIds) {
      const { query, variables } = buildOperation(
        root,
        (path) => {
          const own = slotType(root.field.name, path);
          return own && own !== '*' ? b.ids[own]![0]! : b.ids.Workspace![0]!;
        },
        (path, inputType) => {
          if (path.join('.') !== slot.path.join('.')) return undefined;
          return isListType(getNullableType(inputType)) ? [victim] : victim;
        },
      );
      const response = await send(root, query, variables, b.token);
      const codes = (response.errors ?? []).map((e) => e.extensions?.code);
      const text = JSON.stringify(response.data ?? null);
      for (const marker of a.markers) expect(text, `${root.field.name} leaked ${marker}`).not.toContain(marker);
      if (root.kind === 'mutation') {
        expect(codes, `${root.field.name} with a foreign ID`).toEqual(['NOT_FOUND']);
      } else {
        expect(codes.every((c) => c === 'NOT_FOUND'), `${root.field.name}: ${JSON.stringify(response.errors)}`).toBe(true);
      }
    }
    expect(await snapshot(t, a.organizationId)).toBe(before);
  });
});

describe('scopes: every @auth field refuses a token lacking a required scope and accepts exactly them', () => {
  const cases = roots.filter((r) => r.requires.length > 0).map((root) => ({ root, label: root.field.name }));

  it.each(cases)('$label', async ({ root }) => {
    const platformOnly = root.requires.includes('platform:admin');
    const organizationId = platformOnly ? undefined : b.organizationId;
    const { query, variables } = buildOperation(root, (path) => {
      const own = slotType(root.field.name, path);
      return own && own !== '*' ? b.ids[own]![0]! : null;
    });
    for (const missing of root.requires) {
      const scopes = SCOPES.filter((s) => s !== missing);
      const token = await t.token({ organizationId, scopes });
      const response = await send(root, query, variables, token);
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: [missing] });
    }
    const exact = await t.token({ organizationId, scopes: root.requires });
    const response = await send(root, query, variables, exact);
    const codes = (response.errors ?? []).map((e) => e.extensions?.code);
    expect(codes, JSON.stringify(response.errors)).not.toContain('FORBIDDEN');
    expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
  });
});

/** What every organization sees of the platform: its catalog rows and the organizations. */
async function platformSnapshot(): Promise<string> {
  const prisma = t.services.database.prisma;
  const [catalog, organizations] = await Promise.all([
    prisma.agentCatalog.findMany({ where: { organizationId: null }, orderBy: { id: 'asc' } }),
    prisma.organization.findMany({ orderBy: { id: 'asc' } }),
  ]);
  return JSON.stringify({ catalog, organizations });
}

describe('platform: every platform field refuses every organization\'s token, whatever its scopes, and changes nothing', () => {
  const cases = roots.filter((r) => r.requires.includes('platform:admin')).map((root) => ({ root, label: root.field.name }));

  it('covers the platform mutations', () => {
    expect(cases.map((c) => c.label)).toEqual(expect.arrayContaining(['upsertPlatformCatalog', 'createOrganization']));
  });

  it.each(cases)('$label', async ({ root }) => {
    const { query, variables } = buildOperation(root, () => null);
    const before = await platformSnapshot();
    for (const scopes of [['*'], ['platform:admin'], ['*', 'platform:admin'], [...SCOPES]]) {
      const token = await t.token({ organizationId: b.organizationId, scopes });
      const response = await send(root, query, variables, token);
      expect(response.errors?.map((e) => e.extensions), `${scopes.join(' ')}`).toEqual([
        expect.objectContaining({ code: 'FORBIDDEN', missingScopes: ['platform:admin'] }),
      ]);
    }
    expect(await platformSnapshot()).toBe(before);
    // The same operation with a platform token (no org_id) is not refused for its scopes.
    const platform = await t.token({ scopes: ['*'] });
    const codes = ((await send(root, query, variables, platform)).errors ?? []).map((e) => e.extensions?.code);
    expect(codes).not.toContain('FORBIDDEN');
  });
});

/** Malformed values for an argument of `type`. */
function malformedValues(type: GraphQLInputType): unknown[] {
  const named = getNamedType(type).name;
  const values: unknown[] = [{ unexpected: 'object' }, 'x'.repeat(100_000), '\u0000\u0007\u001b[31m', 2 ** 40, -1, 1e308, true];
  if (isListType(getNullableType(type))) values.push(Array.from({ length: 20_000 }, (_, i) => `item-${i}`));
  if (named === 'ID') {
    values.push('', 'not-a-global-id', '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', Buffer.from('Nope:123').toString('base64url'),
      Buffer.from('Workspace:not-a-uuid').toString('base64url'));
  }
  if (named === 'String') values.push('', ' ', '%_%', 'a'.repeat(501), 'ünïcødé ✓', '\uD800');
  return values;
}

describe('bad input: malformed values anywhere yield coded client errors, never a server error', () => {
  const cases = roots.flatMap((root) => {
    const paths: { path: string[]; type: GraphQLInputType }[] = [];
    for (const arg of root.field.args) {
      paths.push({ path: [arg.name], type: arg.type });
      const named = getNamedType(arg.type);
      if ('getFields' in named && typeof named.getFields === 'function') {
        for (const field of Object.values((named as { getFields: () => Record<string, { name: string; type: GraphQLInputType }> }).getFields())) {
          paths.push({ path: [arg.name, field.name], type: field.type });
        }
      }
    }
    return paths.map(({ path, type }) => ({ root, path, type, label: `${root.field.name}(${path.join('.')})` }));
  });

  it.each(cases)('$label', async ({ root, path, type }) => {
    const admin = await allScopes(root);
    for (const value of malformedValues(type)) {
      const { query, variables } = buildOperation(
        root,
        (p) => {
          const own = slotType(root.field.name, p);
          return own && own !== '*' ? b.ids[own]![0]! : b.ids.Workspace![0]!;
        },
        (p) => (p.join('.') === path.join('.') ? value : undefined),
      );
      const response: GraphQLResponse<unknown> = await send(root, query, variables, admin);
      expect(response.status, `${root.field.name}(${path.join('.')}) = ${String(value).slice(0, 40)}`).toBeLessThan(500);
      const codes = (response.errors ?? []).map((e) => e.extensions?.code);
      expect(codes, `${root.field.name}(${path.join('.')}) = ${String(value).slice(0, 40)}: ${JSON.stringify(response.errors)?.slice(0, 300)}`)
        .not.toContain('INTERNAL_SERVER_ERROR');
      for (const code of codes) expect(typeof code).toBe('string');
    }
    // Still serving.
    expect((await t.request('{ viewer { subject } }', {}, { token: admin })).data).toBeTruthy();
  });
});

describe('list bounds: the largest admissible list is answered, one item more is BAD_USER_INPUT naming it', () => {
  const cases = roots.flatMap((root) =>
    listSlots(root.field).map((slot) => ({ root, slot, label: `${root.field.name}(${slot.path.join('.')})` })),
  );

  it.each(cases)('$label', async ({ root, slot }) => {
    expect(slot.maxItems, `${root.field.name}(${slot.path.join('.')}) prints no bound`).toBeGreaterThan(0);
    const admin = await allScopes(root);
    const argument = slot.path.join('.');
    const call = (count: number) => {
      const { query, variables } = buildOperation(
        root,
        (p) => {
          const own = slotType(root.field.name, p);
          return own && own !== '*' ? b.ids[own]![0]! : b.ids.Workspace![0]!;
        },
        (p) => (p.join('.') === argument ? listValue(slot.type, count, (q, index) => absentId(slotType(root.field.name, q), index), p) : undefined),
      );
      return send(root, query, variables, admin);
    };

    const largest = await call(slot.maxItems!);
    expect(largest.status, JSON.stringify(largest.errors)?.slice(0, 300)).toBeLessThan(500);
    for (const error of largest.errors ?? []) {
      expect(error.extensions?.code, JSON.stringify(error).slice(0, 300)).not.toBe('INTERNAL_SERVER_ERROR');
      expect(error.extensions?.argument === argument && error.extensions?.limit !== undefined, `refused at its own bound: ${error.message}`).toBe(false);
    }

    const beyond = await call(slot.maxItems! + 1);
    expect(beyond.status).toBe(200);
    expect(beyond.errors?.map((e) => e.extensions)).toEqual([{ code: 'BAD_USER_INPUT', argument, limit: slot.maxItems }]);
  });
});

describe('secrets', () => {
  it('appear in no response body (outside runtime configuration) and in no log line of the run', () => {
    const secrets = [...a.secrets, ...b.secrets];
    expect(bodies.length).toBeGreaterThan(50);
    for (const { field, body } of bodies) {
      if (SECRET_BEARING_FIELDS.has(field)) continue;
      for (const secret of secrets) expect(body, `${field} answered a secret`).not.toContain(secret);
    }
    const logs = t.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});

