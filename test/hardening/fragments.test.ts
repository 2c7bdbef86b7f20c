// The built service, started as `npm start` starts it, on the suite's database, against
// documents that stand for far more than they say: fragments that spread each other
// twice per level (2^levels fields in a few hundred bytes), with and without an
// expensive query beside them, through introspection without a token, and the slowest
// documents of at most MAX_REQUEST_BYTES found. Each is refused before it runs, within
// 1 s, while /healthz, asked again and again meanwhile, never waits 500 ms.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.ts';

interface Reply {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  ms: number;
}

let database: TestDatabase;
/** Default limits. */
let service: ServiceProcess;
/** MAX_QUERY_COST=1: every operation is refused with its cost. */
let costing: ServiceProcess;

async function post(target: ServiceProcess, query: string, options: { variables?: Record<string, unknown>; anonymous?: boolean } = {}): Promise<Reply> {
  const started = performance.now();
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.anonymous ? {} : { authorization: `Bearer ${target.token}` }) },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  const text = await response.text();
  let body: Reply['body'] = null;
  try {
    body = JSON.parse(text) as Reply['body'];
  } catch {
    // Not JSON: the assertions report the status.
  }
  return { status: response.status, body, ms: performance.now() - started };
}

/** Asks /healthz one request after another until stopped; resolves to the longest wait. */
function healthLoop(target: ServiceProcess) {
  const url = new URL('/healthz', target.url);
  let running = true;
  let longest = 0;
  let answered = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const response = await fetch(url);
      await response.text();
      expect(response.status).toBe(200);
      longest = Math.max(longest, performance.now() - started);
      answered++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { longest, answered };
    },
  };
}

/** Fragments F0 … F<levels> on `type`, each spreading the next twice; the last selects `leaf`. */
function doubling(levels: number, type: string, leaf: string, name = (i: number) => `F${i}`): string {
  const fragments = [];
  for (let i = 0; i < levels; i++) fragments.push(`fragment ${name(i)} on ${type} { ...${name(i + 1)} ...${name(i + 1)} }`);
  fragments.push(`fragment ${name(levels)} on ${type} { ${leaf} }`);
  return fragments.join(' ');
}

const EXPENSIVE = 'workspaces(first: 100) { edges { node { effectiveModels(first: 100) { edges { node { id modelName } } } } } }';
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
/** Room for the JSON around the query within MAX_REQUEST_BYTES. */
const ENVELOPE = 100;

beforeAll(async () => {
  database = await createTestDatabase();
  const env = { DATABASE_URL: database.databaseUrl ?? '', NODE_ENV: 'development', RATE_LIMIT_POINTS: '0' };
  // One after the other: the first one migrates the database.
  service = await startServiceProcess(env, { token: true });
  costing = await startServiceProcess({ ...env, MAX_QUERY_COST: '1' }, { token: true });
}, 120_000);
afterAll(async () => {
  await Promise.all([service?.stop(), costing?.stop()]);
  await database?.drop();
});

/** Sends `query` while /healthz is asked meanwhile: refused before it ran, within 1 s, /healthz never 500 ms late. */
async function expectRefusedPromptly(query: string, options: { anonymous?: boolean } = {}): Promise<Reply> {
  expect(Buffer.byteLength(JSON.stringify({ query }))).toBeLessThanOrEqual(MAX_REQUEST_BYTES - ENVELOPE);
  const health = healthLoop(service);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const reply = await post(service, query, options);
  // The health checks keep going for a while after the answer: a refusal that left work behind would show.
  await new Promise((resolve) => setTimeout(resolve, 150));
  const { longest, answered } = await health.stop();
  console.info(`${Buffer.byteLength(query)} bytes refused in ${reply.ms.toFixed(0)} ms; /healthz waited at most ${longest.toFixed(0)} ms (${answered} answers)`);
  expect(reply.body?.data ?? null, JSON.stringify(reply.body)?.slice(0, 300)).toBeNull();
  const codes = (reply.body?.errors ?? []).map((error) => error.extensions?.code);
  expect(codes.length, JSON.stringify(reply.body)?.slice(0, 300)).toBeGreaterThan(0);
  for (const code of codes) expect(code, JSON.stringify(reply.body)?.slice(0, 300)).toMatch(/^GRAPHQL_(VALIDATION|PARSE)_FAILED$/);
  expect(reply.ms).toBeLessThan(1000);
  expect(answered).toBeGreaterThan(1);
  expect(longest).toBeLessThan(500);
  return reply;
}

describe('fragments that spread each other', () => {
  it('count at every spread: an expensive query beside them is refused with its whole cost', async () => {
    const alone = await post(service, `{ ${EXPENSIVE} }`);
    expect(alone.body?.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maximumCost: 25_000, limit: 25_000 });
    const expensive = alone.body!.errors![0]!.extensions!.cost as number;
    expect(expensive).toBeGreaterThan(25_000);
    const hidden = await expectRefusedPromptly(`{ ${EXPENSIVE} viewer { ...F0 } } ${doubling(12, 'Viewer', 'subject')}`);
    // viewer 1 + 2^12 × subject 1.
    expect(hidden.body?.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED', cost: expensive + 1 + 2 ** 12, maximumCost: 25_000 }) }),
    ]);
    // The doubling alone at 12 levels is within every limit (4097 fields, cost 4097) and answers.
    const within = await post(service, `{ viewer { ...F0 } } ${doubling(12, 'Viewer', 'subject')}`);
    expect(within.body).toEqual({ data: { viewer: { subject: expect.any(String) } } });
  });

  it.each([12, 24, 30, 60])('refuses %i levels beside an expensive query within 1 s while /healthz answers', async (levels) => {
    await expectRefusedPromptly(`{ ${EXPENSIVE} viewer { ...F0 } } ${doubling(levels, 'Viewer', 'subject')}`);
  });

  it.each([24, 30, 60])('refuses %i levels alone by the number of expanded fields', async (levels) => {
    const reply = await expectRefusedPromptly(`{ viewer { ...F0 } } ${doubling(levels, 'Viewer', 'subject')}`);
    expect(reply.body?.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 20_000, fields: 2 ** levels + 1 });
  });

  it.each([16, 24, 30, 60])('refuses %i levels on __Type through __schema without a token', async (levels) => {
    const reply = await expectRefusedPromptly(`{ __schema { types { ...F0 } } } ${doubling(levels, '__Type', 'name')}`, { anonymous: true });
    expect(reply.body?.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 20_000 });
    // Introspection itself is still open to anonymous callers.
    const small = await post(service, `{ __schema { queryType { ...T } } } fragment T on __Type { name }`, { anonymous: true });
    expect(small.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });
});

describe('the slowest documents of at most MAX_REQUEST_BYTES', () => {
  // Found by measuring: what graphql-js's lexer and validation rules spend most on,
  // at the 3000 tokens and 2 MiB the default limits allow.
  const room = MAX_REQUEST_BYTES - ENVELOPE - 1000;
  const slowest: [string, () => string, boolean?][] = [
    [
      // 270 levels (the most 3000 tokens hold) with names of the longest length allowed, and a comment up to 2 MiB.
      'doubling fragments 270 levels deep',
      () => {
        const pad = 'F'.repeat(250);
        const document = `{ viewer { ...${pad}0 } } ${doubling(270, 'Viewer', 'subject', (i) => `${pad}${i}`)}`;
        return `${document}\n#${'x'.repeat(room - document.length)}`;
      },
    ],
    [
      // OverlappingFieldsCanBeMerged compares every pair of same-named fields.
      'one field repeated side by side up to the token limit',
      () => `{ viewer { ${'organization { name } '.repeat(745)} } }`,
    ],
    [
      // ... and every pair of fragments spread in one selection set.
      'fragments spread side by side',
      () =>
        `{ viewer { ${Array.from({ length: 230 }, (_, i) => `...A${i}`).join(' ')} } } ${Array.from({ length: 230 }, (_, i) => `fragment A${i} on Viewer { organization { name } }`).join(' ')}`,
    ],
    [
      // An unknown name is measured against the schema's names for a suggestion.
      'one unknown field name of 2 MiB',
      () => `{ viewer { s${'u'.repeat(room - 20)} } }`,
    ],
    [
      'unknown field names of the longest length allowed, up to the token limit',
      () => {
        const fields = Array.from({ length: 2990 }, (_, i) => `${'u'.repeat(250)}${i}`).join(' ');
        return `{ viewer { ${fields} } }\n#${'x'.repeat(room - fields.length - 20)}`;
      },
    ],
    [
      'one unknown field name over the length allowed in 2 MiB of names',
      () => {
        const length = Math.floor(room / 1400) - 6;
        return `{ viewer { ${Array.from({ length: 1400 }, (_, i) => `s${i}${'u'.repeat(length)}`).join(' ')} } }`;
      },
    ],
    [
      // Every error scans the document up to where it points.
      '2 MiB of comment before a thousand unknown fields',
      () => `#${'x'.repeat(room - 10_000)}\n{ viewer { ${Array.from({ length: 1000 }, (_, i) => `s${i}`).join(' ')} } }`,
    ],
    [
      'fragments on __Type side by side, without a token',
      () =>
        `{ __schema { types { ${Array.from({ length: 230 }, (_, i) => `...T${i}`).join(' ')} } } } ${Array.from({ length: 230 }, (_, i) => `fragment T${i} on __Type { fields { name } }`).join(' ')}`,
      true,
    ],
  ];

  it.each(slowest)('refuses %s within 1 s while /healthz answers', async (_label, build, anonymous) => {
    await expectRefusedPromptly(build(), { anonymous });
  });
});

describe('documents of 2 MiB that are valid', () => {
  it('are not kept by the parse cache: 150 distinct ones leave the heap as it was', async () => {
    const resident = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${service.pid}/status`, 'utf8'))![1]) / 1024;
    const before = resident();
    for (let i = 0; i < 150; i++) {
      // Distinct documents, padded with a comment to the largest body allowed.
      const query = `{ viewer { subject } } #${String(i).padStart(4, '0')}${'x'.repeat(MAX_REQUEST_BYTES - ENVELOPE - 100)}`;
      const reply = await post(service, query);
      expect(reply.body?.data?.viewer.subject).toBeTruthy();
    }
    expect(service.child.exitCode).toBeNull();
    // Kept, they would be 300 MiB, past the heap ceiling of 256 MiB.
    expect(resident() - before).toBeLessThan(100);
  }, 120_000);
});

describe('documents with fragments within the limits', () => {
  const inline = `query Inline($count: Int = 3, $withName: Boolean!) {
    viewer { subject organization { name } }
    workspaces(first: $count) { totalCount edges { node { id name @include(if: $withName) effectiveModels(first: 5) { edges { node { id modelName } } } } } }
  }`;
  const withFragments = `query WithFragments($size: Int = 3, $named: Boolean!) {
    viewer { ...Who }
    workspaces(first: $size) { ...Page }
  }
  fragment Who on Viewer { subject ... on Viewer { organization { ...Named } } }
  fragment Named on Organization { name }
  fragment Page on WorkspaceConnection { totalCount edges { node { ...Space } } }
  fragment Space on Workspace { id ... @include(if: $named) { name } effectiveModels(first: 5) { edges { node { ...Model } } } }
  fragment Model on CatalogEntry { id modelName }`;

  it('answer as their inline versions do', async () => {
    for (const withName of [true, false]) {
      const expected = await post(service, inline, { variables: { withName } });
      expect(expected.body?.errors).toBeUndefined();
      expect(expected.body?.data?.workspaces.totalCount).toBeGreaterThan(0);
      const reply = await post(service, withFragments, { variables: { named: withName } });
      expect(reply.body).toEqual(expected.body);
    }
  });

  it('cost what their inline versions cost, whatever the variables', async () => {
    const cost = async (query: string, variables: Record<string, unknown>) => {
      const reply = await post(costing, query, { variables });
      expect(reply.body?.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maximumCost: 1 });
      return reply.body!.errors![0]!.extensions!.cost as number;
    };
    const costs = [];
    for (const [count, withName] of [[3, true], [3, false], [40, true], [undefined, false]] as const) {
      const inlineCost = await cost(inline, { ...(count === undefined ? {} : { count }), withName });
      expect(await cost(withFragments, { ...(count === undefined ? {} : { size: count }), named: withName })).toBe(inlineCost);
      costs.push(inlineCost);
    }
    // Page sizes and @include count: 3 workspaces of (1 + name 1 + 1 + 5 × 3) …
    expect(costs[0]).toBeGreaterThan(costs[1]!);
    expect(costs[2]).toBeGreaterThan(costs[0]!);
    expect(costs[3]).toBe(costs[1]);
  });
});
