import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.ts';
import { mintToken } from '../../src/security/tokens.ts';
import { fakeProvider, json } from '../providers/fake-provider.ts';
import { newTraceparent, otlpReceiver, type ReceivedSpan } from './otlp-receiver.ts';
import { startReceiver } from '../webhooks/receiver.ts';

const SECRET = crypto.randomBytes(32).toString('base64');
/** Loaded with --import: reports every OpenTelemetry package the process resolves. */
const MODULE_PROBE = `--import=${new URL('./module-probe.mjs', import.meta.url).href}`;
const SERVER = 2;
const CLIENT = 3;

const secret = (what: string) => `${what}-${crypto.randomBytes(12).toString('hex')}`;

interface Caller {
  url: string;
  token: string;
}

async function post(caller: Caller, query: string, variables: Record<string, unknown> = {}, traceparent?: string) {
  const response = await fetch(caller.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${caller.token}`,
      ...(traceparent ? { traceparent } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
}

function serviceEnv(database: TestDatabase, extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'production',
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
    AUTH_JWT_SECRET: SECRET,
    DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
    RATE_LIMIT_POINTS: '0',
    SHUTDOWN_DRAIN_MS: '0',
    NODE_OPTIONS: [process.env.NODE_OPTIONS, MODULE_PROBE].filter(Boolean).join(' '),
    ...extra,
  };
}

async function organization(url: string): Promise<Caller> {
  const admin = { url, token: await mintToken(SECRET, { subject: 'admin', scopes: ['platform:admin'] }) };
  const created = await post(admin, 'mutation { createOrganization(input: { name: "Traced" }) { organization { databaseId } } }');
  const organizationId = created.data.createOrganization.organization.databaseId as string;
  return { url, token: await mintToken(SECRET, { subject: 'operator', organizationId, scopes: ['*'] }) };
}

const isStatement = (span: ReceivedSpan) => typeof span.attributes['db.query.text'] === 'string';

describe('tracing in the built service, exported as OTLP/HTTP JSON', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let provider: Awaited<ReturnType<typeof fakeProvider>>;
  let database: TestDatabase;
  let service: ServiceProcess;
  let caller: Caller;
  const metricsToken = secret('metrics-token');

  beforeAll(async () => {
    receiver = await otlpReceiver();
    provider = await fakeProvider();
    provider.answer((_req, res) => json(res, { data: [{ id: 'traced-model' }] }));
    database = await createTestDatabase();
    service = await startServiceProcess(
      serviceEnv(database, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        LOG_LEVEL: 'debug',
        METRICS_TOKEN: metricsToken,
        WEBHOOK_ALLOW_HTTP: 'true',
      }),
    );
    caller = await organization(service.url);
  }, 120_000);
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await database?.drop();
    await provider?.close();
    await receiver?.close();
  });

  it('makes one trace of a query: the HTTP server span continuing the incoming traceparent, GraphQL execution, each database statement', async () => {
    const trace = newTraceparent();
    const answer = await post(caller, 'query TracedWorkspaces { workspaces { totalCount } }', {}, trace.header);
    expect(answer.data).toEqual({ workspaces: { totalCount: 0 } });
    const spans = await receiver.trace(trace.traceId, (found) => found.some((span) => span.kind === SERVER) && found.some(isStatement));
    const server = spans.find((span) => span.kind === SERVER)!;
    expect(server).toMatchObject({ parentSpanId: trace.parentId, attributes: expect.objectContaining({ 'http.request.method': 'POST', 'url.path': '/graphql' }) });
    const graphql = spans.find((span) => span.name === 'query.TracedWorkspaces')!;
    expect(graphql).toMatchObject({ parentSpanId: server.spanId, attributes: expect.objectContaining({ 'graphql.execute.operationType': 'query' }) });
    // No resolver spans: one GraphQL span for the operation.
    expect(spans.filter((span) => span.scope === 'graphql')).toHaveLength(1);
    const statements = spans.filter(isStatement);
    expect(statements.map((span) => span.attributes['db.query.text'])).toEqual(expect.arrayContaining([expect.stringMatching(/FROM "public"."workspace"/)]));
    // Statements run within the operation (or its request), with their text and placeholders, never values.
    for (const statement of statements) expect([graphql.spanId, server.spanId, ...spans.map((span) => span.spanId)]).toContain(statement.parentSpanId);
    expect(JSON.stringify(statements)).toContain('$1');
  });

  it("puts a refresh's outbound discovery request in the same trace, and the provider receives that trace's traceparent", async () => {
    const created = await post(caller, 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }', {
      input: { displayName: 'Traced gateway', baseUrl: provider.url },
    });
    const id = created.data.createCustomProvider.customProvider.id as string;
    provider.requests.length = 0;
    const trace = newTraceparent();
    const refreshed = await post(caller, 'mutation Refresh($id: ID!) { refreshCustomProvider(input: { id: $id }) { upsertedCount } }', { id }, trace.header);
    expect(refreshed.data).toEqual({ refreshCustomProvider: { upsertedCount: 1 } });
    const spans = await receiver.trace(trace.traceId, (found) => found.some((span) => span.kind === SERVER) && found.some((span) => span.kind === CLIENT));
    const outbound = spans.find((span) => span.kind === CLIENT && span.scope.includes('undici'))!;
    expect(outbound.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.full': `${provider.url}/models`, 'http.response.status_code': 200 });
    expect(spans.map((span) => span.name)).toContain('mutation.Refresh');
    expect(provider.requests).toHaveLength(1);
    expect(provider.requests[0]!.traceparent).toBe(`00-${trace.traceId}-${outbound.spanId}-01`);
  });

  it('makes each webhook attempt a span of its own, whose outbound request carries its traceparent, without the secret or the body', async () => {
    const hook = await startReceiver();
    try {
      // A credential in the path, as chat services' incoming webhooks have: no span records it.
      const pathSecret = 'T0PS3CR3T-in-the-path';
      const created = await post(caller, 'mutation($url: String!) { createWebhookEndpoint(input: { url: $url }) { secret } }', { url: `${hook.url}/${pathSecret}?token=${pathSecret}` });
      const signingSecret = created.data.createWebhookEndpoint.secret as string;
      await post(caller, 'mutation { createWorkspace(input: { name: "traced-hook-workspace" }) { workspace { id } } }');
      const [request] = await hook.waitFor(1);
      const traceparent = String(request!.headers.traceparent);
      const [, traceId, parentId] = traceparent.split('-');
      const spans = await receiver.trace(traceId!, (found) => found.some((span) => span.name === 'webhook attempt') && found.some((span) => span.kind === CLIENT && span.scope.includes('undici')));
      const attempt = spans.find((span) => span.name === 'webhook attempt')!;
      const outbound = spans.find((span) => span.kind === CLIENT && span.scope.includes('undici'))!;
      expect(attempt).toMatchObject({ kind: CLIENT, attributes: expect.objectContaining({ 'webhook.attempt': 1, 'webhook.outcome': 'succeeded' }) });
      expect(outbound).toMatchObject({ parentSpanId: attempt.spanId, spanId: parentId, attributes: expect.objectContaining({ 'http.request.method': 'POST' }) });
      const exported = JSON.stringify(spans);
      expect(exported).not.toContain(signingSecret.slice(6));
      expect(exported).not.toContain(request!.body);
      expect(exported).not.toContain(String(request!.headers['webhook-signature']).slice(3));
      expect(request!.path).toContain(pathSecret);
      expect(exported).not.toContain(pathSecret);
      expect(outbound.attributes['url.full']).toBe(new URL(hook.url).origin + '/');
    } finally {
      await hook.close();
    }
  });

  it("writes the trace id into the log lines of a request", async () => {
    const trace = newTraceparent();
    await post(caller, '{ viewer { subject } }', {}, trace.header);
    await receiver.trace(trace.traceId, (found) => found.some((span) => span.kind === SERVER));
    const lines = service.output().split('\n').filter((line) => line.includes(`"traceId":"${trace.traceId}"`));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ service: 'model-control-plane', spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('loads the OpenTelemetry SDK (the probe sees it)', () => {
    expect(service.output()).toContain('loaded @opentelemetry/sdk-node');
  });

  it('exports no secret: API keys, custom header values, tokens, through every operation that takes or returns them', async () => {
    const secrets = {
      createKey: secret('sk-create'),
      createHeader: secret('hv-create'),
      inlineKey: secret('sk-inline'),
      inlineHeader: secret('hv-inline'),
      updateKey: secret('sk-update'),
      updateHeader: secret('hv-update'),
      validateKey: secret('sk-validate'),
      validateHeader: secret('hv-validate'),
      uncoercible: secret('sk-uncoercible'),
      inGetUrl: secret('sk-get'),
    };
    const traced: string[] = [];
    const send = async (query: string, variables: Record<string, unknown> = {}) => {
      const trace = newTraceparent();
      traced.push(trace.traceId);
      return post(caller, query, variables, trace.header);
    };
    const CREATE = 'mutation Create($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id } } }';
    const created = await send(CREATE, {
      input: { displayName: 'Secret gateway', baseUrl: provider.url, apiKey: secrets.createKey, customHeaders: [{ name: 'X-Create', value: secrets.createHeader }] },
    });
    const id = created.data.createCustomProvider.customProvider.id as string;
    // Refresh sends the stored secrets to the provider; resolvedModelConfig returns them.
    provider.requests.length = 0;
    const refreshed = await send('mutation($id: ID!) { refreshCustomProvider(input: { id: $id }) { customProvider { models(first: 1) { edges { node { id } } } } } }', { id });
    expect(provider.requests[0]).toMatchObject({ authorization: `Bearer ${secrets.createKey}`, 'x-create': secrets.createHeader });
    const entryId = refreshed.data.refreshCustomProvider.customProvider.models.edges[0].node.id as string;
    const resolved = await send('query($id: ID!) { resolvedModelConfig(catalogEntryId: $id) { apiKey customHeaders { value } } }', { id: entryId });
    expect(resolved.data.resolvedModelConfig).toEqual({ apiKey: secrets.createKey, customHeaders: [{ value: secrets.createHeader }] });
    await send('mutation Update($input: UpdateCustomProviderInput!) { updateCustomProvider(input: $input) { customProvider { id } } }', {
      input: { id, apiKey: secrets.updateKey, customHeaders: [{ name: 'X-Update', value: secrets.updateHeader }] },
    });
    // Secrets as literals in the document itself.
    const inline = await send(
      `mutation { createCustomProvider(input: { displayName: "Inline", baseUrl: "${provider.url}", apiKey: "${secrets.inlineKey}", customHeaders: [{ name: "X-Inline", value: "${secrets.inlineHeader}" }] }) { customProvider { id } } }`,
    );
    expect(inline.errors).toBeUndefined();
    const validated = await send(
      `mutation { validateCustomProvider(input: { baseUrl: "${provider.url}", apiKey: "${secrets.validateKey}", customHeaders: [{ name: "X-Validate", value: "${secrets.validateHeader}" }] }) { valid } }`,
    );
    expect(validated.data).toEqual({ validateCustomProvider: { valid: true } });
    // A variable that does not coerce: graphql-js echoes its value in the error message.
    const refused = await send(CREATE, { input: { displayName: 'Bad', baseUrl: provider.url, apiKey: [secrets.uncoercible] } });
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(refused.errors)).toContain(secrets.uncoercible);
    // An argument value in a GET request's query string.
    const trace = newTraceparent();
    traced.push(trace.traceId);
    const query = encodeURIComponent(`query { node(id: "${secrets.inGetUrl}") { id } }`);
    await fetch(`${service.url}?query=${query}`, { headers: { authorization: `Bearer ${caller.token}`, accept: 'application/json', traceparent: trace.header } });
    const scraped = await fetch(service.url.replace('/graphql', '/metrics'), { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(scraped.status).toBe(200);

    const allSpans: ReceivedSpan[] = [];
    for (const traceId of traced) allSpans.push(...(await receiver.trace(traceId, (found) => found.some((span) => span.kind === SERVER))));
    // What was looked for is there: the refused operation's span records its error, by code.
    const failed = allSpans.find((span) => span.name === 'mutation.Create' && span.events.some((event) => event.name === 'exception'));
    expect(failed?.events.find((event) => event.name === 'exception')?.attributes).toMatchObject({ 'exception.message': 'BAD_USER_INPUT' });
    expect(allSpans.find((span) => span.kind === SERVER && span.attributes['url.query'] !== undefined)?.attributes['url.query']).toMatch(/^query=REDACTED/);

    const exported = receiver.requests.map((request) => request.body.toString('utf8')).join('\n');
    expect(exported.length).toBeGreaterThan(0);
    const [, , signature] = caller.token.split('.');
    for (const value of [...Object.values(secrets), caller.token, signature!, metricsToken, SECRET]) expect(exported).not.toContain(value);
    for (const value of [...Object.values(secrets), caller.token, metricsToken]) expect(service.output()).not.toContain(value);
  });
});

describe('tracing over OTLP/HTTP protobuf (the default protocol)', () => {
  it('exports the trace of a request as protobuf', async () => {
    const receiver = await otlpReceiver();
    const database = await createTestDatabase();
    const service = await startServiceProcess(serviceEnv(database, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' }));
    try {
      const caller = await organization(service.url);
      const trace = newTraceparent();
      await post(caller, '{ viewer { subject } }', {}, trace.header);
      const traceIdBytes = Buffer.from(trace.traceId, 'hex');
      await expect
        .poll(() => receiver.requests.some((request) => request.path === '/v1/traces' && request.contentType === 'application/x-protobuf' && request.body.includes(traceIdBytes)), {
          timeout: 10_000,
        })
        .toBe(true);
      expect(receiver.requests.every((request) => request.contentType === 'application/x-protobuf')).toBe(true);
    } finally {
      await service.stop('SIGKILL');
      await database.drop();
      await receiver.close();
    }
  }, 120_000);
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('loads nothing of the OpenTelemetry SDK (only the API, which prom-client uses)', async () => {
    const database = await createTestDatabase();
    const service = await startServiceProcess(serviceEnv(database, {}));
    try {
      const caller = await organization(service.url);
      expect((await post(caller, '{ viewer { subject } }', {}, newTraceparent().header)).data).toEqual({ viewer: { subject: 'operator' } });
      expect(service.output()).toContain('module probe active');
      const loaded = service.output().match(/^loaded @opentelemetry\/\S+$/gm) ?? [];
      expect(loaded.filter((line) => line !== 'loaded @opentelemetry/api')).toEqual([]);
    } finally {
      await service.stop('SIGKILL');
      await database.drop();
    }
  }, 120_000);
});
