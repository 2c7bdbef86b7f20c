// The built service, started as `npm start` starts it (its heap ceiling included), on
// the suite's database, against hostile requests and against many concurrent requests
// at the largest size every list-taking field admits.
import fs from 'node:fs';
import { getNamedType, isAbstractType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.ts';
import { startCommand } from '../../scripts/start-command.ts';
import { absentId, buildOperation, listSlots, listValue, rootFields, selectionFor, slotType } from '../proof/schema-walk.ts';

interface Reply {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  ms: number;
}

let database: TestDatabase;
let service: ServiceProcess;

/** Sends a raw body (a string is sent as is) to the service's endpoint. */
async function post(body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const started = Date.now();
  const response = await fetch(service.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${service.token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Reply['body'] = null;
  try {
    parsed = JSON.parse(text) as Reply['body'];
  } catch {
    // Not JSON: the assertions below report the status.
  }
  return { status: response.status, body: parsed, ms: Date.now() - started };
}

/** VmRSS and VmHWM of the service process, in MiB. */
function memory(): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${service.pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

const HEAP_CEILING_MIB = Number(/--max-old-space-size=(\d+)/.exec(startCommand(process.cwd()).args.join(' '))![1]);

beforeAll(async () => {
  database = await createTestDatabase();
  // Many requests of one token: the rate limit is not what is measured here.
  service = await startServiceProcess({ DATABASE_URL: database.databaseUrl ?? '', NODE_ENV: 'development', RATE_LIMIT_POINTS: '0' }, { token: true });
}, 120_000);
afterAll(async () => {
  await service?.stop();
  await database?.drop();
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => absentId('Workspace', i));

describe('hostile requests (GraphQL Armor and OWASP classes)', () => {
  const deep = (levels: number) => {
    let selection = 'id';
    for (let i = 0; i < levels; i++) selection = `customProvider { models { edges { node { ${selection} } } } }`;
    return `{ catalogEntries { edges { node { ${selection} } } } }`;
  };
  const scenarios: [string, () => Promise<Reply>, RegExp][] = [
    ['a list of 20 000 ids in the variables (1.2 MB)', () => post({ query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: ids(20_000) } }), /BAD_USER_INPUT/],
    ['a list of 10 000 ids under the variables limit', () => post({ query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: ids(10_000) } }), /BAD_USER_INPUT/],
    ['a 1.5 MB string', () => post({ query: 'query($s: String) { catalogEntries(filter: { provider: $s }) { totalCount } }', variables: { s: 'x'.repeat(1_500_000) } }), /BAD_USER_INPUT/],
    ['variables nested 100 000 deep', () => post(`{"query":"query($s: String) { catalogEntries(filter: { provider: $s }) { totalCount } }","variables":{"s":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`), /BAD_USER_INPUT/],
    ['a JSON document nested 60 deep', () => post({
      query: 'mutation($m: JSONObject) { upsertPlatformCatalog(input: { entries: [{ modelProvider: "p", modelName: "n", metadata: $m }] }) { insertedCount } }',
      variables: { m: JSON.parse(`${'{"a":'.repeat(60)}1${'}'.repeat(60)}`) },
    }), /BAD_USER_INPUT/],
    ['selections nested 800 deep', () => post({ query: deep(200) }), /GRAPHQL_(VALIDATION|PARSE)_FAILED/],
    ['1 000 aliases', () => post({ query: `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }` }), /GRAPHQL_(VALIDATION|PARSE)_FAILED/],
    ['a field repeated 10 000 times', () => post({ query: `{ viewer { ${'subject '.repeat(10_000)} } }` }), /GRAPHQL_PARSE_FAILED/],
    ['500 directives on one field', () => post({ query: `{ viewer { subject ${'@include(if: true) '.repeat(500)} } }` }), /GRAPHQL_(VALIDATION|PARSE)_FAILED/],
    ['fragments that spread each other', () => post({ query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }' }), /GRAPHQL_VALIDATION_FAILED/],
    ['nested connections of 100 × 100', () => post({ query: '{ workspaces(first: 100) { edges { node { effectiveModels(first: 100) { edges { node { id modelName } } } } } } }' }), /GRAPHQL_VALIDATION_FAILED/],
    ['a batch of 100 operations', () => post(Array.from({ length: 100 }, () => ({ query: '{ viewer { subject } }' }))), /./],
    ['text no column can hold', () => post({ query: 'query($s: String) { catalogEntries(filter: { provider: $s }) { totalCount } }', variables: { s: 'a\u0000b' } }), /BAD_USER_INPUT/],
    ['a body over 2 MiB', () => post({ query: '{ viewer { subject } }', variables: { pad: 'x'.repeat(3 * 1024 * 1024) } }), /BAD_USER_INPUT/],
  ];

  it.each(scenarios)('refuses %s cleanly, within 2 s, and keeps serving', async (_label, send, expected) => {
    const reply = await send();
    expect(reply.status, JSON.stringify(reply.body)?.slice(0, 300)).toBeLessThan(500);
    expect(reply.body?.data ?? null).toBeNull();
    const codes = (reply.body?.errors ?? []).map((error) => String(error.extensions?.code));
    expect(codes.length, JSON.stringify(reply.body)?.slice(0, 300)).toBeGreaterThan(0);
    expect(codes.join(' ')).toMatch(expected);
    expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
    expect(reply.ms).toBeLessThan(2000);
    const normal = await post({ query: '{ viewer { subject organization { name } } }' });
    expect(normal.status).toBe(200);
    expect(normal.body?.data?.viewer.organization.name).toBeTruthy();
  });
});

describe('memory', () => {
  it('stays bounded under concurrent requests at the largest size of every list-taking field', async () => {
    const setup = await post({
      query: 'mutation { createCustomProvider(input: { displayName: "memory" }) { customProvider { id } } }',
    });
    const providerId = setup.body!.data!.createCustomProvider.customProvider.id as string;
    const workspaceId = (await post({ query: '{ workspaces(first: 1) { edges { node { id } } } }' })).body!.data!.workspaces.edges[0].node.id as string;
    const existing: Record<string, string> = { CustomProvider: providerId, Workspace: workspaceId };

    const operations = rootFields().flatMap((root) =>
      listSlots(root.field).map((slot) => {
        const argument = slot.path.join('.');
        // A plain selection for node lookups: the generic one aliases every member's fields.
        const selection = isAbstractType(getNamedType(root.field.type)) ? '{ id __typename }' : selectionFor(root.field.type);
        const operation = buildOperation(
          root,
          (path) => existing[slotType(root.field.name, path) ?? ''] ?? workspaceId,
          (path) => (path.join('.') === argument ? listValue(slot.type, slot.maxItems!, (p, i) => absentId(slotType(root.field.name, p), i), path) : undefined),
          selection,
        );
        return { label: `${root.field.name}(${argument})`, operation };
      }),
    );
    expect(operations.map((o) => o.label)).toEqual(expect.arrayContaining(['nodes(ids)', 'upsertPlatformCatalog(input.entries)']));

    // The high-water mark from here on (PGlite's start, creating its database, peaks far higher).
    fs.writeFileSync(`/proc/${service.pid}/clear_refs`, '5');
    const idle = memory();
    const CONCURRENT = 8;
    let before = idle;
    for (let round = 0; round < 4; round++) {
      // The first round brings the heap to its working size; growth is measured after it.
      if (round === 1) {
        fs.writeFileSync(`/proc/${service.pid}/clear_refs`, '5');
        before = memory();
      }
      const replies = await Promise.all(
        operations.flatMap(({ label, operation }) => Array.from({ length: CONCURRENT }, async () => ({ label, reply: await post(operation) }))),
      );
      for (const { label, reply } of replies) {
        expect(reply.status, `${label}: ${JSON.stringify(reply.body)?.slice(0, 300)}`).toBeLessThan(500);
        const codes = (reply.body?.errors ?? []).map((error) => error.extensions?.code);
        expect(codes, `${label}: ${JSON.stringify(reply.body?.errors)?.slice(0, 300)}`).not.toContain('INTERNAL_SERVER_ERROR');
        // At its bound the list itself is admitted: whatever refusal comes names something else.
        for (const error of reply.body?.errors ?? []) expect(error.extensions?.limit, `${label}: ${error.message}`).toBeUndefined();
      }
    }
    const after = memory();
    console.info(
      `service memory (MiB): ${idle.rss.toFixed(0)} resident idle, ${before.rss.toFixed(0)} after a first round, peak ${after.peak.toFixed(0)} during three more; heap ceiling ${HEAP_CEILING_MIB}`,
    );

    expect(service.child.exitCode).toBeNull();
    expect((await fetch(new URL('/healthz', service.url))).status).toBe(200);
    // What the load adds stays inside the heap ceiling's headroom, and repeating it adds
    // little more: memory grows with the bounded lists and the pool, not with what a
    // request asks for. (How much of the ceiling V8 fills before collecting varies from
    // run to run, so the first round's growth is bounded by the ceiling itself.)
    expect(after.peak - idle.rss).toBeLessThan(HEAP_CEILING_MIB);
    expect(after.peak - before.rss).toBeLessThan(HEAP_CEILING_MIB / 2);
  }, 180_000);
});
