import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { send } from '../support/documents.ts';
import { sha256Hex } from '../../src/http/trusted-documents.ts';
import { subscribeSse, subscribeWs, untilSubscribed } from '../changes/feed-client.ts';

const CATALOG = 'query Catalog($first: Int) { catalogEntries(first: $first) { totalCount edges { node { modelName } } } }';
const WORKSPACES = 'query Workspaces { workspaces(first: 10) { totalCount edges { node { name } } } }';
const VIEWER = 'query Viewer { viewer { subject actorType } }';
/** 1 + 100 × (1 + 100 × 2): far over the MAX_QUERY_COST of the `require` service, within depth and tokens. */
const EXPENSIVE = 'query Expensive { catalogEntries(first: 100) { edges { node { customProvider { models(first: 100) { totalCount } } } } } }';
const CHANGES = 'subscription Changes($after: String, $filter: ChangeEventFilter) { changes(after: $after, filter: $filter) { cursor action subjectType subjectId } }';
const CREATE_WORKSPACE = 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id } } }';

const id = (document: string) => sha256Hex(document);
const UNKNOWN = sha256Hex('query Unknown { viewer { subject } }');

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-trusted-'));
const manifest = path.join(directory, 'persisted-documents.json');
// Keys as GraphQL Code Generator writes them (sha256:<hex>) and bare.
fs.writeFileSync(
  manifest,
  JSON.stringify({
    [`sha256:${id(CATALOG)}`]: CATALOG,
    [`sha256:${id(WORKSPACES)}`]: WORKSPACES,
    [id(VIEWER)]: VIEWER,
    [`sha256:${id(EXPENSIVE)}`]: EXPENSIVE,
    [`sha256:${id(CHANGES)}`]: CHANGES,
  }),
);
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

/** A user token and a service token of a new organization. */
async function actors(t: TestApp) {
  const org = await t.organization();
  return {
    org,
    user: org.token,
    service: await t.token({ organizationId: org.id, subject: 'integration', actorType: 'service' }),
  };
}

describe('PERSISTED_DOCUMENTS=allow (the default with a manifest)', () => {
  let t: TestApp;
  let statements = 0;
  beforeAll(async () => {
    t = await startTestApp({ PERSISTED_DOCUMENTS_FILE: manifest }, { onQuery: () => statements++ });
  });
  afterAll(() => t.close());

  it('runs text and ids alike, in every spelling of an id, POST and GET', async () => {
    const { user } = await actors(t);
    expect(t.services.trustedDocuments.mode).toBe('allow');
    const byText = ok(await send(t.app, { query: CATALOG, variables: { first: 2 } }, { token: user }));
    expect(byText.catalogEntries.totalCount).toBeGreaterThan(0);
    const forms = [
      { documentId: `sha256:${id(CATALOG)}` },
      { documentId: id(CATALOG) },
      { documentId: `sha256:${id(CATALOG).toUpperCase()}` },
      { extensions: { persistedQuery: { version: 1, sha256Hash: id(CATALOG) } } },
    ];
    for (const form of forms) {
      expect(ok(await send(t.app, { ...form, variables: { first: 2 } }, { token: user }))).toEqual(byText);
      expect(ok(await send(t.app, { ...form, variables: { first: 2 } }, { token: user, method: 'GET' }))).toEqual(byText);
    }
  });

  it('answers an unknown id PERSISTED_QUERY_NOT_FOUND, a malformed one BAD_USER_INPUT, neither text nor id BAD_USER_INPUT', async () => {
    const { user } = await actors(t);
    for (const body of [{ documentId: `sha256:${UNKNOWN}` }, { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN } } }]) {
      const answer = await send(t.app, body, { token: user });
      expect(codes(answer)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(answer.errors![0]!.message).toContain(UNKNOWN);
      // A request error: 200 under application/json, 400 under application/graphql-response+json.
      expect(answer.status).toBe(200);
      expect((await send(t.app, body, { token: user, accept: 'application/graphql-response+json' })).status).toBe(400);
      expect(codes(await send(t.app, body, { token: user, method: 'GET' }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    }
    for (const documentId of ['sha256:abc', `md5:${UNKNOWN}`, `${UNKNOWN}0`]) {
      const answer = await send(t.app, { documentId }, { token: user });
      expect(codes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.errors![0]!.extensions).toMatchObject({ argument: 'documentId' });
    }
    expect(codes(await send(t.app, { variables: {} }, { token: user }))).toEqual(['BAD_USER_INPUT']);
  });

  it('runs the text when a request carries text and an id (an APQ client retrying), whatever the id', async () => {
    const { user } = await actors(t);
    const answer = ok(await send(t.app, { query: VIEWER, documentId: UNKNOWN }, { token: user }));
    expect(answer.viewer.actorType).toBe('USER');
  });

  it('keys cached answers on the document: its id and its text are one question, other documents are others', async () => {
    const { user } = await actors(t);
    const asked = async (body: Record<string, unknown>) => {
      statements = 0;
      const answer = ok(await send(t.app, body, { token: user }));
      return { answer, statements };
    };
    // Asked by id, then by text: the same question asked twice, so the answer is kept.
    const first = await asked({ documentId: id(CATALOG), variables: { first: 3 } });
    expect(first.statements).toBeGreaterThan(0);
    expect((await asked({ query: CATALOG, variables: { first: 3 } })).answer).toEqual(first.answer);
    for (const body of [
      { extensions: { persistedQuery: { version: 1, sha256Hash: id(CATALOG) } }, variables: { first: 3 } },
      { documentId: `sha256:${id(CATALOG)}`, variables: { first: 3 } },
      { query: CATALOG, variables: { first: 3 } },
    ]) {
      expect(await asked(body)).toEqual({ answer: first.answer, statements: 0 });
    }
    // Another document, or other variables, is another question.
    for (let i = 0; i < 2; i++) {
      const workspaces = await asked({ documentId: id(WORKSPACES) });
      expect(workspaces.answer.workspaces.totalCount).toBe(0);
      expect(workspaces.statements).toBeGreaterThan(0);
    }
    expect((await asked({ documentId: id(WORKSPACES) })).statements).toBe(0);
    expect((await asked({ documentId: id(CATALOG), variables: { first: 4 } })).statements).toBeGreaterThan(0);
  });
});

describe('PERSISTED_DOCUMENTS=require', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await startTestApp({
      PERSISTED_DOCUMENTS: 'require',
      PERSISTED_DOCUMENTS_FILE: manifest,
      MAX_QUERY_COST: '1000',
      RATE_LIMIT_POINTS: '40',
    });
    url = await t.listen();
  });
  afterAll(() => t.close());

  it('refuses text from user tokens (an id beside it changes nothing) and runs their ids', async () => {
    const { user } = await actors(t);
    for (const body of [{ query: CATALOG }, { query: CATALOG, documentId: id(CATALOG) }]) {
      const refused = await send(t.app, body, { token: user });
      expect(codes(refused)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(refused.data).toBeUndefined();
      expect(codes(await send(t.app, body, { token: user, method: 'GET' }))).toEqual(['PERSISTED_QUERY_ONLY']);
    }
    expect(ok(await send(t.app, { documentId: `sha256:${id(VIEWER)}` }, { token: user })).viewer).toEqual({ subject: 'tester', actorType: 'USER' });
    expect(ok(await send(t.app, { documentId: id(CATALOG), variables: { first: 1 } }, { token: user, method: 'GET' })).catalogEntries.edges).toHaveLength(1);
    expect(codes(await send(t.app, { documentId: UNKNOWN }, { token: user }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });

  it('lets service tokens send text, mutations included', async () => {
    const { service } = await actors(t);
    expect(ok(await send(t.app, { query: VIEWER }, { token: service })).viewer.actorType).toBe('SERVICE');
    expect(ok(await send(t.app, { query: '{ changeFeedHead }' }, { token: service })).changeFeedHead).toEqual(expect.any(String));
    ok(await send(t.app, { query: CREATE_WORKSPACE, variables: { name: 'from-text' } }, { token: service }));
    expect(ok(await send(t.app, { documentId: id(WORKSPACES) }, { token: service })).workspaces.totalCount).toBe(1);
  });

  it('answers text with an invalid token UNAUTHENTICATED, and without one allows introspection only', async () => {
    expect(codes(await send(t.app, { query: CATALOG }, { token: 'not-a-token' }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await send(t.app, { query: CATALOG }))).toEqual(['UNAUTHENTICATED']);
    expect(ok(await send(t.app, { query: '{ __schema { queryType { name } } }' })).__schema.queryType.name).toBe('Query');
  });

  it('applies the cost check and the rate limit to trusted documents', async () => {
    const { user } = await actors(t);
    const expensive = await send(t.app, { documentId: id(EXPENSIVE) }, { token: user });
    expect(codes(expensive)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(expensive.errors![0]!.extensions).toMatchObject({ maximumCost: 1000 });
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(codes(await send(t.app, { documentId: id(VIEWER) }, { token: user })));
    expect(answers.filter((found) => found.length === 0).length).toBe(39);
    expect(codes(await send(t.app, { documentId: id(VIEWER) }, { token: user }))).toEqual(['RATE_LIMITED']);
  });

  it('holds over WebSocket and SSE: a subscription by id delivers, text from a user token is refused', async () => {
    const { user, service } = await actors(t);
    const subscriptions = [subscribeWs(url, user, { documentId: id(CHANGES) }), subscribeSse(t, user, { documentId: `sha256:${id(CHANGES)}` })];
    await untilSubscribed(t, subscriptions.length);
    const created = ok(await send(t.app, { query: CREATE_WORKSPACE, variables: { name: 'seen' } }, { token: service })).createWorkspace.workspace;
    for (const subscription of subscriptions) {
      const [event] = await subscription.waitFor(1);
      expect(event).toMatchObject({ action: 'CREATED', subjectType: 'WORKSPACE', subjectId: created.id });
      subscription.close();
    }
    const refused = [subscribeWs(url, user, { query: CHANGES }), subscribeSse(t, user, { query: CHANGES }), subscribeWs(url, user, { documentId: UNKNOWN })];
    for (const subscription of refused) await subscription.done;
    expect(JSON.stringify(refused[0]!.errors)).toContain('PERSISTED_QUERY_ONLY');
    expect(JSON.stringify(refused[1]!.errors)).toContain('PERSISTED_QUERY_ONLY');
    expect(JSON.stringify(refused[2]!.errors)).toContain('PERSISTED_QUERY_NOT_FOUND');
    expect(refused.every((subscription) => subscription.events.length === 0)).toBe(true);
    // A service token's text subscribes.
    const head = ok(await send(t.app, { query: '{ changeFeedHead }' }, { token: service })).changeFeedHead;
    const integration = subscribeWs(url, service, { query: CHANGES, after: head });
    ok(await send(t.app, { query: CREATE_WORKSPACE, variables: { name: 'seen-too' } }, { token: service }));
    expect((await integration.waitFor(1))[0]).toMatchObject({ action: 'CREATED', subjectType: 'WORKSPACE' });
    integration.close();
  });
});

describe('PERSISTED_DOCUMENTS=off (the default without a manifest)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ PERSISTED_DOCUMENTS: 'off', PERSISTED_DOCUMENTS_FILE: manifest });
  });
  afterAll(() => t.close());

  it('runs text, ignores an id beside it, and answers an id alone PERSISTED_QUERY_NOT_FOUND saying trusted documents are off', async () => {
    const { user } = await actors(t);
    expect(t.services.trustedDocuments).toEqual({ mode: 'off', documents: new Map() });
    expect(ok(await send(t.app, { query: VIEWER, documentId: id(VIEWER) }, { token: user })).viewer.subject).toBe('tester');
    for (const body of [{ documentId: id(VIEWER) }, { extensions: { persistedQuery: { version: 1, sha256Hash: id(VIEWER) } } }]) {
      for (const method of ['POST', 'GET'] as const) {
        const answer = await send(t.app, body, { token: user, method });
        expect(codes(answer)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
        expect(answer.errors![0]!.message).toContain('PERSISTED_DOCUMENTS=off');
      }
    }
    expect(codes(await send(t.app, { documentId: 'nonsense' }, { token: user }))).toEqual(['BAD_USER_INPUT']);
  });
});
