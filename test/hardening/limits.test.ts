import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { queryOnConnection, scopedTransaction } from '../../src/db/scope.ts';
import { isCancellation } from '../../src/db/failures.ts';
import { Prisma } from '../../src/generated/prisma/client.ts';

let t: TestApp;
let token: string;

beforeAll(async () => {
  t = await startTestApp({ MAX_QUERY_COST: '500', MAX_REQUEST_BYTES: '4096', MAX_QUERY_TOKENS: '200' });
  ({ token } = await t.organization());
});
afterAll(() => t.close());

describe('query protections', () => {
  it('refuses too many aliases with a coded validation error', async () => {
    const response = await t.request(`{ ${Array.from({ length: 16 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`, {}, { token });
    expect(codes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(response.errors?.[0]?.message).toMatch(/Aliases limit of 15/);
  });

  it('refuses queries nested deeper than the limit', async () => {
    let selection = 'id';
    for (let i = 0; i < 14; i++) selection = `... on Query { viewer { organization { ${selection} } } }`;
    const response = await t.request(`{ ${selection} }`, {}, { token });
    expect(codes(response)).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses too many directives', async () => {
    const response = await t.request(`{ viewer { subject ${'@include(if: true) '.repeat(11)} } }`, {}, { token });
    expect(codes(response)).toContain('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses documents with too many tokens before parsing them fully', async () => {
    const response = await t.request(`{ viewer { ${'subject '.repeat(300)} } }`, {}, { token });
    expect(codes(response)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('multiplies connection sizes into the cost and refuses expensive operations without touching data', async () => {
    const cheap = await t.request('{ workspaces(first: 10) { edges { node { id name } } } }', {}, { token });
    ok(cheap);
    const sized = `query($n: Int) { workspaces(first: $n) { edges { node { id name createdAt databaseId } } totalCount } }`;
    ok(await t.request(sized, { n: 5 }, { token }));
    const expensive = await t.request(sized, { n: 100 }, { token });
    expect(codes(expensive)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    // Costs are remembered per document and variables: the small page still passes.
    ok(await t.request(sized, { n: 5 }, { token }));
    expect(expensive.errors?.[0]?.extensions).toMatchObject({ maximumCost: 500 });
    // Refused during validation: execution never started, so no resolver touched the database.
    expect(expensive.data).toBeUndefined();
  });

  it('refuses bodies over the size limit and bodies of unknown length', async () => {
    const big = JSON.stringify({ query: `{ viewer { subject } }`, variables: { pad: 'x'.repeat(5000) } });
    const tooBig = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': String(big.length) },
      body: big,
    });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('over HTTP, reads no byte past the declared length and refuses a body of unknown length', async () => {
    const { hostname, port } = new URL(await t.listen());
    // Everything the server sends back on one connection, until it closes it.
    const exchange = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        let answer = '';
        const socket = net.connect(Number(port), hostname, () => socket.end(bytes));
        socket.setEncoding('utf8').on('data', (chunk) => (answer += chunk)).on('error', reject).on('close', () => resolve(answer));
      });
    const head = (headers: string) => `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\n${headers}\r\n`;
    const operation = JSON.stringify({ query: '{ viewer { subject } }' });
    // The declared bytes are the operation; the bytes after them are the next request, answered on its own.
    const second = JSON.stringify({ query: '{ second: viewer { subject } }' });
    const pipelined = await exchange(
      `${head(`Content-Length: ${operation.length}\r\n`)}${operation}${head(`Content-Length: ${second.length}\r\nConnection: close\r\n`)}${second}`,
    );
    expect(pipelined.match(/HTTP\/1\.1 \d+ /g)).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 200 ']);
    expect(pipelined).toContain('{"data":{"viewer":{"subject"');
    expect(pipelined).toContain('{"data":{"second":{"subject"');
    const chunk = operation.length.toString(16);
    const chunked = await exchange(`${head('Transfer-Encoding: chunked\r\nConnection: close\r\n')}${chunk}\r\n${operation}\r\n0\r\n\r\n`);
    expect(chunked).toMatch(/^HTTP\/1\.1 411 /);
  });

  it('refuses batched operations by default', async () => {
    const response = await t.app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ viewer { subject } }' }, { query: '{ viewer { subject } }' }]),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
  });
});

describe('limits over the operation as executed', () => {
  const refusal = (response: { errors?: { extensions?: Record<string, unknown> }[] }) => response.errors?.[0]?.extensions;

  it('count the aliases and directives of a fragment at each of its spreads', async () => {
    const aliases = 'fragment Eight on Query { a1: viewer { subject } a2: viewer { subject } a3: viewer { subject } a4: viewer { subject } a5: viewer { subject } a6: viewer { subject } a7: viewer { subject } a8: viewer { subject } }';
    ok(await t.request(`{ ...Eight } ${aliases}`, {}, { token }));
    const twice = await t.request(`{ ...Twice } fragment Twice on Query { ...Eight ... on Query { ...Eight } } ${aliases}`, {}, { token });
    expect(refusal(twice)).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 15, aliases: 16 });
    expect(twice.errors?.[0]?.message).toMatch(/Aliases limit of 15 exceeded, found 16/);

    const directives = 'fragment Six on Viewer { subject @include(if: true) @skip(if: false) actorType @include(if: true) @skip(if: false) scopes @include(if: true) @skip(if: false) }';
    ok(await t.request(`{ viewer { ...Six } } ${directives}`, {}, { token }));
    const spread = await t.request(`query($yes: Boolean = true) { viewer { ...Six ...Six @include(if: $yes) } } ${directives}`, {}, { token });
    expect(refusal(spread)).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 10, directives: 13 });
  });

  it('count the depth of a fragment where it is spread', async () => {
    // Each fragment nests 4 levels (customProvider models edges node) below where it is spread.
    const document = (levels: number) => {
      const fragments = Array.from({ length: levels }, (_, i) => `fragment E${i} on CatalogEntry { customProvider { models(first: 1) { edges { node { ${i + 1 < levels ? `...E${i + 1}` : 'id'} } } } } }`);
      return `{ catalogEntries(first: 1) { edges { node { ...E0 } } } } ${fragments.join(' ')}`;
    };
    ok(await t.request(document(2), {}, { token }));
    expect(refusal(await t.request(document(3), {}, { token }))).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 12, depth: 16 });
  });

  it('count the cost of a fragment at each spread, with @include and @skip as the variables say', async () => {
    // 1 + 20 workspaces × (edges 1 + node 1 + effectiveModels 1 + 10 × totalCount 1) = 261 at each spread.
    const query = `query($twice: Boolean!) { ...Spaces @include(if: $twice) ...Spaces } fragment Spaces on Query { workspaces(first: 20) { edges { node { effectiveModels(first: 10) { totalCount } } } } }`;
    ok(await t.request(query, { twice: false }, { token }));
    expect(refusal(await t.request(query, { twice: true }, { token }))).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', cost: 522, maximumCost: 500, limit: 500 });
  });

  it('refuses what would make validation slow before it runs', async () => {
    const repeated = await t.request(`{ viewer { ${'subject '.repeat(65)} } }`, {}, { token });
    expect(refusal(repeated)).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 2000, comparisons: (65 * 64) / 2 });
    ok(await t.request(`{ viewer { ${'subject '.repeat(60)} } }`, {}, { token }));

    const named = await t.request(`{ ${'a'.repeat(300)}: viewer { subject } }`, {}, { token });
    expect(refusal(named)).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 256, nameLength: 300 });
    ok(await t.request(`{ ${'a'.repeat(256)}: viewer { subject } }`, {}, { token }));

    // At most 10 errors, then graphql-js says it stopped.
    const unknown = await t.request(`{ viewer { ${Array.from({ length: 30 }, (_, i) => `f${i}`).join(' ')} } }`, {}, { token });
    expect(unknown.errors).toHaveLength(11);
    expect(codes(unknown).every((code) => code === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
  });

  it('refuses variables that do not coerce before computing a cost, and fragments that spread themselves', async () => {
    const badVariable = await t.request('query($size: Int!) { workspaces(first: $size) { totalCount } }', { size: 'many' }, { token });
    expect(codes(badVariable)).toEqual(['BAD_USER_INPUT']);
    expect(badVariable.errors?.[0]?.message).toMatch(/\$size/);
    const cycle = await t.request('{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { subject ...A }', {}, { token });
    expect(codes(cycle)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(cycle.data).toBeUndefined();
  });
});

describe('introspection and suggestions', () => {
  it('is public in development, authenticated-only in production, and can be disabled', async () => {
    const query = '{ __schema { queryType { name } } }';
    ok(await t.request(query, {}, { token: null }));
    // Anonymous callers may introspect but nothing else.
    expect((await t.request('{ __schema { queryType { name } } viewer { subject } }', {}, { token: null })).status).toBe(401);

    const production = await startTestApp({ NODE_ENV: 'production' });
    try {
      const { token: prodToken } = await production.organization();
      expect((await production.request(query, {}, { token: null })).status).toBe(401);
      ok(await production.request(query, {}, { token: prodToken }));
      const typo = await production.request('{ viewer { subjec } }', {}, { token: prodToken });
      expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
    } finally {
      await production.close();
    }

    const disabled = await startTestApp({ INTROSPECTION: 'disabled' });
    try {
      const { token: anyToken } = await disabled.organization();
      expect((await disabled.request(query, {}, { token: anyToken })).errors?.length).toBeGreaterThan(0);
    } finally {
      await disabled.close();
    }
  });

  it('suggests field names in development', async () => {
    const typo = await t.request('{ viewer { subjec } }', {}, { token });
    expect(typo.errors?.[0]?.message).toMatch(/Did you mean/);
  });
});

describe('database timeouts', () => {
  // PGlite runs statements to completion (no timer interrupts in its single-threaded
  // engine); on PostgreSQL the limit is enforced by the server.
  it.skipIf(!process.env.DATABASE_URL)('cancels a statement that outlives DB_STATEMENT_TIMEOUT_MS and keeps serving', async () => {
    // Long enough for startup (seeding the platform catalog runs under the same limit).
    const app = await startTestApp({ DB_STATEMENT_TIMEOUT_MS: '1000' });
    try {
      const org = await app.organization();
      await expect(
        scopedTransaction(app.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
          tx.$queryRaw`SELECT pg_sleep(3)::text`,
        ),
      ).rejects.toThrow(/statement timeout|canceling statement/i);
      // A statement sent past Prisma (the catalog page's way) is cancelled alike, and known as a cancellation.
      const direct = await scopedTransaction(app.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
        queryOnConnection(tx, Prisma.sql`SELECT pg_sleep(3)::text`),
      ).catch((error: unknown) => error);
      expect(isCancellation(direct)).toBe(true);
      ok(await app.request('{ workspaces { totalCount } }', {}, { token: org.token }));
    } finally {
      await app.close();
    }
  });
});
