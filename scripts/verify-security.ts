/**
 * Black-box checks of the security rules of SPEC §17 against a running service.
 *
 *   BASE_URL=http://127.0.0.1:4000 AUTH_JWT_SECRET=… [DATA_DIR=… | DATABASE_URL=…] EGRESS_LOG=<file> \
 *     npx tsx scripts/verify-security.ts
 *
 * The service is started separately, as `npm start` does, with the egress guard preloaded
 * (NODE_OPTIONS=--import=../shared/tools/egress-guard.mjs, EGRESS_LOG=<same file>) and the default
 * DISCOVERY_DENY_PRIVATE_NETWORKS=false: stand-in providers listen on loopback. Each run creates two
 * organizations with a platform token; tokens are minted with `npm run cli -- token`. Prints one
 * line per check and exits non-zero when any failed; any line in EGRESS_LOG is a failure.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { mintToken } from '../src/security/tokens.ts';

const BASE = process.env.BASE_URL ?? 'http://127.0.0.1:4000';
const GRAPHQL = `${BASE}/graphql`;
const EGRESS_LOG = process.env.EGRESS_LOG;
let failures = 0;
const check = (name: string, ok: boolean, detail?: unknown) => {
  if (!ok) failures += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || detail === undefined ? '' : `  ${JSON.stringify(detail).slice(0, 600)}`}`);
};

function cliToken(args: string[]): string {
  return execFileSync('npm', ['run', '--silent', 'cli', '--', 'token', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

interface Answer { status: number; headers: Headers; body: any; ms: number }
async function gql(token: string | null, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(GRAPHQL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: response.status, headers: response.headers, body, ms: performance.now() - started };
}
const code = (a: Answer) => a.body?.errors?.[0]?.extensions?.code;
async function data(token: string, query: string, variables?: Record<string, unknown>) {
  const a = await gql(token, query, variables);
  if (a.body?.errors) throw new Error(`${query.slice(0, 80)}: ${JSON.stringify(a.body.errors)}`);
  return a.body.data;
}
const egress = () => (EGRESS_LOG && fs.existsSync(EGRESS_LOG) ? fs.readFileSync(EGRESS_LOG, 'utf8').trim() : '');

/** A loopback HTTP server standing in for a provider: records each request's path and headers. */
async function fakeProvider(models: string[]) {
  const requests: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ object: 'list', data: models.map((id) => ({ id, object: 'model' })) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { requests, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function collectSse(token: string, query: string, variables: Record<string, unknown> | undefined, want: number, waitMs = 4000) {
  const client = createSseClient({ url: GRAPHQL, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  return collect((sink) => client.subscribe({ query, variables }, sink), want, waitMs, () => client.dispose());
}
async function collectWs(token: string, query: string, variables: Record<string, unknown> | undefined, want: number, waitMs = 4000) {
  const client = createWsClient({ url: GRAPHQL.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
  return collect((sink) => client.subscribe({ query, variables }, sink), want, waitMs, () => void client.dispose());
}
/** Collects events until `want` arrived and 800 ms more passed (to see any extra), or waitMs. */
function collect(start: (sink: any) => () => void, want: number, waitMs: number, dispose: () => void): Promise<{ events: any[]; errors: any[] }> {
  return new Promise((resolve) => {
    const events: any[] = [];
    const errors: any[] = [];
    let settle: NodeJS.Timeout | undefined;
    const finish = () => { clearTimeout(timer); clearTimeout(settle); unsubscribe(); dispose(); resolve({ events, errors }); };
    const timer = setTimeout(finish, waitMs);
    const unsubscribe = start({
      next: (value: any) => {
        if (value.errors) errors.push(...value.errors);
        if (value.data) events.push(value.data.changes);
        if (events.length >= want && !settle) settle = setTimeout(finish, 800);
      },
      error: (error: unknown) => { errors.push(error); finish(); },
      complete: () => finish(),
    });
  });
}

const ENTRY = 'edges { node { id databaseId modelName } }';

async function main() {
  const secret = process.env.AUTH_JWT_SECRET!;
  const platform = cliToken(['--subject', 'verify-platform', '--scopes', 'platform:admin']);
  const orgs: Record<string, string> = {};
  for (const name of ['A', 'B']) {
    const d = await data(platform, 'mutation($n: String!) { createOrganization(input: { name: $n }) { organization { databaseId } } }', { n: `verify-${name}-${Date.now()}` });
    orgs[name] = d.createOrganization.organization.databaseId;
  }
  check('platform token creates organizations', Boolean(orgs.A && orgs.B));
  const starA = cliToken(['--subject', 'a-star', '--org', orgs.A, '--scopes', '*']);
  const defaultA = cliToken(['--subject', 'a-default', '--org', orgs.A]);
  const readB = cliToken(['--subject', 'b-read', '--org', orgs.B, '--scopes', 'agent:read']);
  const starB = cliToken(['--subject', 'b-star', '--org', orgs.B, '--scopes', '*']);
  // The CLI refuses platform:admin with --org; mint one as an attacker holding the secret's tokens would have it.
  const spelledA = await mintToken(secret, { subject: 'a-spelled', organizationId: orgs.A, scopes: ['*', 'platform:admin'], issuer: process.env.AUTH_ISSUER, audience: process.env.AUTH_AUDIENCE });
  const editorA = cliToken(['--subject', 'a-editor', '--org', orgs.A, '--scopes', 'agent:read agent:create agent:update agent:delete']);

  // ---- 1. platform scope
  const gpt4o = `{ catalogEntries(first: 5, filter: { provider: "openai", modelNameContains: "gpt-4o" }) { edges { node { modelName metadata limits { maxInputTokens } } } } }`;
  const before = await gql(readB, gpt4o);
  const upsert = 'mutation { upsertPlatformCatalog(input: { entries: [{ modelProvider: "openai", modelName: "gpt-4o", metadata: { supports_vision: false, max_input_tokens: 1 } }] }) { insertedCount } }';
  for (const [label, token] of [['* token', starA], ['default CLI token', defaultA], ['token naming platform:admin', spelledA], ['tenant B * token', starB]] as const) {
    const a = await gql(token, upsert);
    check(`1 upsertPlatformCatalog with org ${label} → FORBIDDEN`, code(a) === 'FORBIDDEN' && !a.body.data?.upsertPlatformCatalog, a.body);
    const o = await gql(token, 'mutation { createOrganization(input: { name: "evil" }) { organization { id } } }');
    check(`1 createOrganization with org ${label} → FORBIDDEN`, code(o) === 'FORBIDDEN', o.body);
  }
  const after = await gql(readB, gpt4o);
  check('1 tenant B sees gpt-4o unchanged', JSON.stringify(before.body) === JSON.stringify(after.body) && !JSON.stringify(after.body).includes('"maxInputTokens":1}'), after.body);
  const viewer = await data(starA, '{ viewer { scopes } }');
  check('1 org * token holds no platform:admin', !viewer.viewer.scopes.includes('platform:admin'), viewer);
  const platformUpsert = await gql(platform, 'mutation { upsertPlatformCatalog(input: { entries: [{ modelProvider: "verify", modelName: "verify-model" }] }) { insertedCount updatedCount } }');
  check('1 platform token may upsertPlatformCatalog', !platformUpsert.body.errors, platformUpsert.body);

  // ---- 2. fragments
  let healthMax = 0;
  let probing = true;
  const healthLoop = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${BASE}/healthz`).then((r) => r.text());
      healthMax = Math.max(healthMax, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const doubling = (levels: number, on: string, leaf: string, prefix = 'F') =>
    Array.from({ length: levels }, (_, i) => `fragment ${prefix}${i} on ${on} { ...${prefix}${i + 1} ...${prefix}${i + 1} }`).join(' ') + ` fragment ${prefix}${levels} on ${on} { ${leaf} }`;
  const costly = '{ workspaces(first: 100) { edges { node { effectiveModels(first: 100) { edges { node { id modelName } } } } } } }';
  const plain = await gql(defaultA, costly);
  check('2 costly query alone → GRAPHQL_VALIDATION_FAILED', code(plain) === 'GRAPHQL_VALIDATION_FAILED', plain.body);
  const beside = await gql(defaultA, `{ ${costly.slice(1, -1)} viewer { ...F0 } } ${doubling(12, 'Viewer', 'subject')}`);
  check('2 costly query beside 12-level fragments → GRAPHQL_VALIDATION_FAILED', code(beside) === 'GRAPHQL_VALIDATION_FAILED' && !beside.body.data, beside.body);
  // 12 plain levels stand for 4 096 fields, under every limit (MAX_EXPANDED_FIELDS 20 000): answered, quickly.
  const twelve = await gql(defaultA, `{ viewer { ...F0 } } ${doubling(12, 'Viewer', 'subject')}`);
  check(`2 plain doubling 12 levels (4 096 fields, under the limits) answered in ${twelve.ms.toFixed(0)} ms`, twelve.ms < 1000 && !twelve.body.errors, twelve.body);
  for (const levels of [24, 30, 60]) {
    const doc = `{ viewer { ...F0 } } ${doubling(levels, 'Viewer', 'subject')}`;
    const a = await gql(defaultA, doc);
    check(`2 doubling ${levels} levels (${doc.length} B) → GRAPHQL_VALIDATION_FAILED in ${a.ms.toFixed(0)} ms`, code(a) === 'GRAPHQL_VALIDATION_FAILED' && a.ms < 1000, a.body);
    const anon = await gql(null, `{ __schema { types { ...T0 } } } ${doubling(levels, '__Type', 'name', 'T')}`);
    check(`2 anonymous __schema doubling ${levels} levels → GRAPHQL_VALIDATION_FAILED in ${anon.ms.toFixed(0)} ms`, code(anon) === 'GRAPHQL_VALIDATION_FAILED' && anon.ms < 1000, anon.body);
  }
  // Large documents: past MAX_QUERY_TOKENS (3 000) the parser stops (GRAPHQL_PARSE_FAILED); past
  // MAX_REQUEST_BYTES the body is refused (413). The worst documents within the token limit must be
  // refused by validation, quickly.
  const limit = Number(process.env.MAX_REQUEST_BYTES ?? 2 * 1024 * 1024) - 4096;
  const fanout = (levels: number, width: number) => Array.from({ length: levels }, (_, i) => `fragment F${i} on Viewer { ${Array.from({ length: width }, () => `...F${i + 1}`).join(' ')} }`).join(' ') + ` fragment F${levels} on Viewer { subject }`;
  const allLater = (n: number) => Array.from({ length: n }, (_, i) => `fragment F${i} on Viewer { subject ${Array.from({ length: n - i }, (_, j) => `...F${i + j + 1}`).join(' ')} }`).join(' ') + ` fragment F${n} on Viewer { subject }`;
  const big: [string, string, string | null][] = [
    ['fragment chain past the token limit', `{ viewer { ...F0 } } ${doubling(Math.floor(limit / 60), 'Viewer', 'subject')}`, 'GRAPHQL_PARSE_FAILED'],
    ['aliases past MAX_REQUEST_BYTES', `{ ${Array.from({ length: Math.floor(limit / 16) }, (_, i) => `a${i}: __typename`).join(' ')} }`, '413'],
    ['doubling 230 levels (within tokens)', `{ viewer { ...F0 } } ${doubling(230, 'Viewer', 'subject')}`, 'GRAPHQL_VALIDATION_FAILED'],
    ['fan-out 8 x 60 levels', `{ viewer { ...F0 } } ${fanout(60, 8)}`, 'GRAPHQL_VALIDATION_FAILED'],
    ['each fragment spreads every later one (n=40)', `{ viewer { ...F0 } } ${allLater(40)}`, 'GRAPHQL_VALIDATION_FAILED'],
    ['anonymous __schema doubling 230 levels', `{ __schema { types { ...T0 } } } ${doubling(230, '__Type', 'name', 'T')}`, 'GRAPHQL_VALIDATION_FAILED'],
    ['anonymous introspection nesting 300', `{ __schema { types { ${'fields { type { '.repeat(300)} name ${'} } '.repeat(300)} } } }`, 'GRAPHQL_VALIDATION_FAILED'],
  ];
  for (const [label, doc, want] of big) {
    const a = await gql(label.startsWith('anonymous') ? null : defaultA, doc);
    const got = a.status === 413 ? '413' : code(a);
    check(`2 ${label} (${(doc.length / 1024).toFixed(1)} KiB) → ${a.status} ${got} in ${a.ms.toFixed(0)} ms`, a.ms < 1000 && got === want && !a.body?.data, a.body);
  }
  probing = false;
  await healthLoop;
  check(`2 /healthz never waited 500 ms (max ${healthMax.toFixed(0)} ms)`, healthMax < 500);

  // ---- setup for 3, 4, 6: workspaces, a provider with two models, grants
  const ws1 = (await data(defaultA, 'mutation { createWorkspace(input: { name: "w1" }) { workspace { id databaseId } } }')).createWorkspace.workspace;
  const ws2 = (await data(defaultA, 'mutation { createWorkspace(input: { name: "w2" }) { workspace { id databaseId } } }')).createWorkspace.workspace;
  const origin1 = await fakeProvider(['m-one', 'm-two']);
  const origin2 = await fakeProvider(['m-one', 'm-two']);
  const provider = (await data(defaultA, `mutation($u: String!) { createCustomProvider(input: { displayName: "p", baseUrl: $u, apiKey: "sk-verify-secret", customHeaders: [{ name: "X-Tenant-Secret", value: "hdr-secret" }] }) { customProvider { id } } }`, { u: `http://127.0.0.1:${origin1.port}/v1` })).createCustomProvider.customProvider;
  await data(defaultA, 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id: provider.id });
  check('4 refresh reaches the first origin with its key', origin1.requests.some((r) => r.headers.authorization === 'Bearer sk-verify-secret'), origin1.requests);
  const models = (await data(defaultA, `query($id: ID!) { node(id: $id) { ... on CustomProvider { models(first: 10) { ${ENTRY} } } } }`, { id: provider.id })).node.models.edges.map((e: any) => e.node);
  const one = models.find((m: any) => m.modelName === 'm-one');
  const two = models.find((m: any) => m.modelName === 'm-two');

  // ---- 3. subscription arguments
  const head = (await data(defaultA, '{ changeFeedHead }')).changeFeedHead;
  await data(defaultA, 'mutation($e: ID!, $w: ID!) { enableModel(input: { catalogEntryId: $e, workspaceId: $w }) { modelAccess { id } } }', { e: one.id, w: ws1.id });
  await data(defaultA, 'mutation($e: ID!, $w: ID!) { enableModel(input: { catalogEntryId: $e, workspaceId: $w }) { modelAccess { id } } }', { e: two.id, w: ws2.id });
  await data(defaultA, 'mutation { createWorkspace(input: { name: "w3" }) { workspace { id } } }');
  await data(defaultA, 'mutation($e: ID!, $w: ID!) { setDefaultModel(input: { catalogEntryId: $e, workspaceId: $w }) { defaultModelSelection { modelName } } }', { e: one.id, w: ws1.id });
  const feed = async (filter: string) => (await data(defaultA, `{ changeEvents(first: 100, after: "${head}"${filter}) { edges { node { cursor subjectType } } } }`)).changeEvents.edges.map((e: any) => e.node.cursor);
  const cases: [string, string, Record<string, unknown> | undefined, string][] = [
    ['after: $cursor', 'subscription Resume($cursor: String) { changes(after: $cursor) { cursor subjectType } }', { cursor: head }, ''],
    ['literal after', `subscription { changes(after: "${head}") { cursor subjectType } }`, undefined, ''],
    ['default of $c', `subscription($c: String = "${head}") { changes(after: $c) { cursor subjectType } }`, undefined, ''],
    ['literal subjectTypes filter', `subscription { changes(after: "${head}", filter: { subjectTypes: [MODEL_ACCESS] }) { cursor subjectType } }`, undefined, ', filter: { subjectTypes: [MODEL_ACCESS] }'],
    ['$f filter', 'subscription($from: String, $f: ChangeEventFilter) { changes(after: $from, filter: $f) { cursor subjectType } }', { from: head, f: { workspaceId: ws1.id } }, `, filter: { workspaceId: "${ws1.id}" }`],
    ['literal workspaceId + $types', `subscription($types: [ChangeSubject!]) { changes(after: "${head}", filter: { workspaceId: "${ws2.id}", subjectTypes: $types }) { cursor subjectType } }`, { types: ['MODEL_ACCESS'] }, `, filter: { workspaceId: "${ws2.id}", subjectTypes: [MODEL_ACCESS] }`],
  ];
  for (const [label, query, variables, filter] of cases) {
    const expected = await feed(filter);
    for (const [transport, run] of [['SSE', collectSse], ['WebSocket', collectWs]] as const) {
      const got = await run(defaultA, query, variables, expected.length);
      const cursors = got.events.map((e) => e.cursor);
      check(`3 ${transport} ${label}: ${cursors.length} events = changeEvents ${expected.length}`, got.errors.length === 0 && expected.length > 0 && JSON.stringify(cursors) === JSON.stringify(expected), { got: cursors, expected, errors: got.errors });
    }
  }

  // ---- 4. credentials follow their origin
  const denied = await gql(editorA, `query($e: ID!) { resolvedModelConfig(catalogEntryId: $e) { __typename } }`, { e: one.id });
  check('4 editor token may not read credentials (resolvedModelConfig FORBIDDEN)', code(denied) === 'FORBIDDEN', denied.body);
  const update = 'mutation($id: ID!, $u: String!) { updateCustomProvider(input: { id: $id, baseUrl: $u }) { customProvider { baseUrl } } }';
  for (const target of [`http://127.0.0.1:${origin2.port}/v1`, 'http://attacker.example/v1', `https://127.0.0.1:${origin1.port}/v1`, `http://localhost:${origin1.port}/v1`]) {
    const moved = await gql(editorA, update, { id: provider.id, u: target });
    const message = moved.body.errors?.[0]?.message ?? '';
    check(`4 updateCustomProvider to ${target} without apiKey/customHeaders → BAD_USER_INPUT naming both`, code(moved) === 'BAD_USER_INPUT' && message.includes('apiKey') && message.includes('customHeaders'), moved.body);
  }
  const onlyKey = await gql(editorA, 'mutation($id: ID!, $u: String!) { updateCustomProvider(input: { id: $id, baseUrl: $u, apiKey: "sk-new" }) { customProvider { baseUrl } } }', { id: provider.id, u: `http://127.0.0.1:${origin2.port}/v1` });
  check('4 moving with apiKey only → BAD_USER_INPUT naming customHeaders', code(onlyKey) === 'BAD_USER_INPUT' && /customHeaders/.test(onlyKey.body.errors?.[0]?.message) && !/apiKey\b(?!Header)/.test(onlyKey.body.errors?.[0]?.message.replace('customHeaders', '')), onlyKey.body);
  const stored = (await data(defaultA, 'query($id: ID!) { node(id: $id) { ... on CustomProvider { baseUrl hasApiKey customHeaderNames } } }', { id: provider.id })).node;
  check('4 provider unchanged after refused moves', stored.baseUrl === `http://127.0.0.1:${origin1.port}/v1` && stored.hasApiKey && stored.customHeaderNames.length === 1, stored);
  const samePath = await gql(editorA, update, { id: provider.id, u: `http://127.0.0.1:${origin1.port}/v1/` });
  check('4 same origin, other path, without credentials → allowed', !samePath.body.errors, samePath.body);
  const refresh = await gql(editorA, 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id: provider.id });
  check('4 refresh after refused moves sends nothing to the new origin', !refresh.body.errors && origin2.requests.length === 0, { refresh: refresh.body, origin2: origin2.requests });
  const movedOk = await gql(editorA, 'mutation($id: ID!, $u: String!) { updateCustomProvider(input: { id: $id, baseUrl: $u, apiKey: null, customHeaders: [] }) { customProvider { baseUrl hasApiKey customHeaderNames } } }', { id: provider.id, u: `http://127.0.0.1:${origin2.port}/v1` });
  check('4 moving with apiKey: null, customHeaders: [] → allowed, secrets removed', !movedOk.body.errors && movedOk.body.data.updateCustomProvider.customProvider.hasApiKey === false, movedOk.body);
  await gql(editorA, 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id: provider.id });
  check('4 the new origin never saw the old key or headers', origin2.requests.length > 0 && origin2.requests.every((r) => !JSON.stringify(r.headers).includes('secret')), origin2.requests);

  // ---- 5. metadata services
  const hasWebhooks = (await data(defaultA, '{ __type(name: "Mutation") { fields { name } } }')).__type.fields.some((f: any) => f.name === 'createWebhookEndpoint');
  if (!hasWebhooks) console.log('   (no createWebhookEndpoint in this schema: webhook URLs not checked)');
  const literal = ['http://169.254.169.254/', 'http://169.254.1.1/v1', 'http://[fe80::1]/', 'http://[fe80::a9fe:a9fe]/', 'http://[fd00:ec2::254]/', 'http://[fd20:ce::254]/', 'http://100.100.100.200/', 'http://168.63.129.16/', 'http://192.0.0.192/',
    'http://[::ffff:169.254.169.254]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[::ffff:100.100.100.200]/', 'http://[::ffff:c000:c0]/', 'http://[::169.254.169.254]/', 'http://[64:ff9b::a9fe:a9fe]/', 'http://[64:ff9b::168.63.129.16]/', 'http://[2002:a9fe:a9fe::]/', 'http://[2002:6464:64c8::1]/',
    'http://0xa9fea9fe/', 'http://2852039166/', 'http://0251.0376.0251.0376/', 'http://169.254.43518/', 'http://metadata.google.internal/computeMetadata/v1', 'http://metadata.azure.com/', 'http://METADATA.GOOGLE.INTERNAL./'];
  const named = ['http://meta.test/', 'http://mixed.test/'];
  for (const url of literal) {
    const created = await gql(defaultA, 'mutation($u: String!) { createCustomProvider(input: { displayName: "m", baseUrl: $u }) { customProvider { id } } }', { u: url });
    const updated = await gql(defaultA, update, { id: provider.id, u: url });
    const hook = hasWebhooks ? [await gql(defaultA, 'mutation($u: String!) { createWebhookEndpoint(input: { url: $u }) { webhookEndpoint { id } } }', { u: url })] : [];
    check(`5 save ${url}: provider create/update${hasWebhooks ? ' and webhook' : ''} → BAD_USER_INPUT`, [created, updated, ...hook].every((a) => code(a) === 'BAD_USER_INPUT'), [created, updated, ...hook].map((a) => a.body.errors?.[0] ?? a.body));
  }
  for (const url of [...literal, ...named]) {
    const v = await gql(defaultA, 'mutation($u: String!) { validateCustomProvider(input: { baseUrl: $u }) { valid httpStatus error } }', { u: url });
    check(`5 validate ${url} → refused without connecting`, (v.body.data?.validateCustomProvider?.valid === false || code(v) === 'BAD_USER_INPUT') && !egress(), v.body);
  }
  for (const url of named) {
    const created = await gql(defaultA, 'mutation($u: String!) { createCustomProvider(input: { displayName: "dns", baseUrl: $u }) { customProvider { id } } }', { u: url });
    if (created.body.errors) { check(`5 save ${url} refused`, code(created) === 'BAD_USER_INPUT', created.body); continue; }
    const id = created.body.data.createCustomProvider.customProvider.id;
    const r = await gql(defaultA, 'mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id });
    const st = (await data(defaultA, 'query($id: ID!) { node(id: $id) { ... on CustomProvider { discoveryStatus lastDiscoveryError } } }', { id })).node;
    check(`5 refresh via ${url} → refused at connect, nothing sent`, (Boolean(r.body.errors) || st.discoveryStatus === 'FAILED') && !egress(), { r: r.body, st });
    const v = await gql(defaultA, 'mutation($id: ID!) { validateCustomProvider(input: { id: $id }) { valid } }', { id });
    check(`5 validate stored ${url} → not valid`, v.body.data?.validateCustomProvider?.valid === false || Boolean(v.body.errors), v.body);
  }
  check('5 egress log empty', egress() === '', egress());

  // ---- 6. bound token nested models
  const bound = cliToken(['--subject', 'bound', '--org', orgs.A, '--workspace', ws1.databaseId, '--scopes', 'agent:read']);
  const nested = await data(bound, `query($w: ID!) { workspaceModels(workspaceId: $w) { edges { node { modelName customProvider { models(first: 50) { totalCount ${ENTRY} } } } } } }`, { w: ws1.id });
  const seen = nested.workspaceModels.edges.flatMap((e: any) => e.node.customProvider?.models.edges.map((m: any) => m.node.modelName) ?? []);
  check('6 bound token: workspaceModels → customProvider.models only its workspace\'s', seen.length > 0 && seen.every((n: string) => n === 'm-one'), nested);
  const def = await data(bound, `{ defaultModelSelection { catalogEntry { modelName customProvider { models(first: 50) { totalCount ${ENTRY} } } } } }`);
  const defSeen = def.defaultModelSelection?.catalogEntry.customProvider.models.edges.map((m: any) => m.node.modelName);
  check('6 bound token: defaultModelSelection → catalogEntry.customProvider.models only its workspace\'s', JSON.stringify(defSeen) === '["m-one"]' && def.defaultModelSelection.catalogEntry.customProvider.models.totalCount === 1, def);

  // ---- 6. metric labels
  await gql(null, 'query AnonLabel1 { __typename }');
  await gql(defaultA, 'query AuthLabel1 { __typename }');
  const metricsText = await fetch(`${BASE}/metrics`, { headers: process.env.METRICS_TOKEN ? { authorization: `Bearer ${process.env.METRICS_TOKEN}` } : {} }).then((r) => r.text());
  check('6 anonymous operation names no metric label; authenticated ones do', !metricsText.includes('AnonLabel1') && metricsText.includes('AuthLabel1'), metricsText.split('\n').filter((l) => /operationName/.test(l)).slice(0, 5));

  // ---- 6. 401 answers
  const noToken = await gql(null, '{ catalogEntries(first: 1) { totalCount } }');
  const badToken = await gql('not-a-token', '{ viewer { subject } }');
  check(`6 anonymous protected query → ${noToken.status} ${code(noToken)} WWW-Authenticate: ${noToken.headers.get('www-authenticate')}`, noToken.status === 401 && /^Bearer/.test(noToken.headers.get('www-authenticate') ?? ''), noToken.body);
  check(`6 invalid token → ${badToken.status} WWW-Authenticate: ${badToken.headers.get('www-authenticate')}`, badToken.status === 401 && /^Bearer.*error="invalid_token"/.test(badToken.headers.get('www-authenticate') ?? ''), badToken.body);
  for (const accept of ['text/event-stream']) {
    const r = await fetch(GRAPHQL, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ query: 'subscription { changes { cursor } }' }) });
    const text = await r.text();
    check(`6 SSE subscription without token → ${r.status} WWW-Authenticate: ${r.headers.get('www-authenticate')}`, r.status === 401 && text.includes('UNAUTHENTICATED') && /^Bearer/.test(r.headers.get('www-authenticate') ?? ''), text.slice(0, 300));
  }
  const sseGet = await fetch(`${GRAPHQL}?query=${encodeURIComponent('subscription { changes { cursor } }')}`, { headers: { accept: 'text/event-stream', 'x-graphql-yoga-csrf': '1' } });
  const sseGetText = await sseGet.text();
  check(`6 SSE GET subscription without token → ${sseGet.status}`, sseGet.status === 401 && sseGetText.includes('UNAUTHENTICATED'), sseGetText.slice(0, 300));

  // ---- 6. WebSocket expiry and error payloads
  const shortToken = cliToken(['--subject', 'short', '--org', orgs.A, '--scopes', 'agent:read', '--expires', '4s']);
  const wsClose = (subscribe: boolean) => new Promise<{ code: number; afterMs: number; pings: number }>((resolve) => {
    const socket = new WebSocket(GRAPHQL.replace('http', 'ws'), 'graphql-transport-ws');
    const opened = Date.now();
    let pings = 0;
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${shortToken}` } })));
    socket.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.type === 'connection_ack' && subscribe) socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { changes { cursor } }' } }));
      if (m.type === 'ping') { pings += 1; socket.send(JSON.stringify({ type: 'pong' })); }
    });
    socket.on('close', (c) => resolve({ code: c, afterMs: Date.now() - opened, pings }));
    setTimeout(() => socket.terminate(), 20_000);
  });
  const [idle, subscribed] = await Promise.all([wsClose(false), wsClose(true)]);
  check(`6 idle WebSocket closed ${idle.code} after ${idle.afterMs} ms`, idle.code === 4401 && idle.afterMs < 9000, idle);
  check(`6 subscribed WebSocket closed ${subscribed.code} after ${subscribed.afterMs} ms`, subscribed.code === 4401 && subscribed.afterMs < 9000, subscribed);
  const wsErrors = await collectWs(defaultA, 'subscription { changes(after: "not-a-cursor") { cursor } }', undefined, 1, 3000);
  const httpError = await gql(defaultA, '{ changeEvents(after: "not-a-cursor") { edges { cursor } } }');
  check('6 WebSocket errors carry no extensions.http', wsErrors.errors.length > 0 && !JSON.stringify(wsErrors.errors).includes('"http"'), wsErrors.errors);
  const validationWs = await collectWs(defaultA, 'subscription { changes { nope } }', undefined, 1, 3000);
  check('6 WebSocket validation error: no extensions.http', validationWs.errors.length > 0 && !JSON.stringify(validationWs.errors).includes('"http"'), validationWs.errors);
  const auditOnly = cliToken(['--subject', 'audit-only', '--org', orgs.A, '--scopes', 'audit:read']);
  const forbiddenWs = await collectWs(auditOnly, 'subscription { changes { cursor } }', undefined, 1, 3000);
  check('6 WebSocket FORBIDDEN error: code kept, no extensions.http', forbiddenWs.errors[0]?.extensions?.code === 'FORBIDDEN' && !JSON.stringify(forbiddenWs.errors).includes('"http"'), forbiddenWs.errors);
  console.log(`   (HTTP error for comparison: ${JSON.stringify(httpError.body.errors?.[0]?.extensions)}, WS: ${JSON.stringify(wsErrors.errors[0]?.extensions ?? wsErrors.errors[0])})`);

  // ---- ordinary use
  const q = await data(defaultA, '{ viewer { subject organization { name } } workspaces(first: 5) { totalCount } }');
  check('sanity query', q.workspaces.totalCount >= 3, q);
  const sub = collectSse(defaultA, 'subscription { changes { subjectType subject { id } } }', undefined, 1, 5000);
  await new Promise((r) => setTimeout(r, 500));
  const m = await data(defaultA, 'mutation { createWorkspace(input: { name: "sanity" }) { workspace { id name } } }');
  const s = await sub;
  check('sanity mutation + live subscription', m.createWorkspace.workspace.name === 'sanity' && s.events[0]?.subject?.id === m.createWorkspace.workspace.id, s);

  origin1.close();
  origin2.close();
  check('egress log empty at the end', egress() === '', egress());
  console.log(failures === 0 ? 'ALL PASSED' : `${failures} FAILED`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((error) => { console.error(error); process.exit(2); });
