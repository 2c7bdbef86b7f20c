import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { print, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startServices, stopServices } from '../../src/bootstrap.ts';
import { createApp, type App } from '../../src/http/server.ts';
import { attachWebSocket } from '../../src/http/websocket.ts';
import { scopedTransaction } from '../../src/db/scope.ts';
import { mintToken, type TokenClaims } from '../../src/security/tokens.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const JWT_SECRET = 'test-secret-with-enough-entropy-0123456789';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }>;
}

export interface TestApp {
  app: App;
  services: Services;
  config: Config;
  /** Every log line written during the run. */
  logs: string[];
  token(claims: Partial<TokenClaims> & { organizationId?: string }): Promise<string>;
  /** Sends one operation to the real endpoint. */
  request<T = Record<string, unknown>, V = Record<string, unknown>>(
    document: TypedDocumentNode<T, V> | DocumentNode | string,
    variables?: V,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<T>>;
  /** Serves the app over HTTP and WebSocket on 127.0.0.1 (closed with the app); returns its /graphql URL. */
  listen(): Promise<string>;
  /** A new organization, made through the platform path, with an all-scopes token for it. */
  organization(name?: string): Promise<{ id: string; token: string }>;
  close(): Promise<void>;
}

export async function startTestApp(
  overrides: Partial<Record<keyof Config, string>> = {},
  options: { onQuery?: (sql: string) => void } = {},
): Promise<TestApp> {
  const database: TestDatabase = await createTestDatabase();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const { config, services } = await (async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      AUTH_JWT_SECRET: JWT_SECRET,
      DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
      DATA_DIR: database.dataDir,
      ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
      DATABASE_POOL_SIZE: '5',
      ...overrides,
    });
    return { config, services: await startServices(config, createLogger(config.LOG_LEVEL, sink), options) };
  })().catch(async (error: unknown) => {
    // A start that fails (a refused setting, say) leaves no database behind.
    await database.drop();
    throw error;
  });
  const app = createApp(services);

  const token: TestApp['token'] = (claims) =>
    mintToken(JWT_SECRET, { subject: 'tester', scopes: ['*'], ...claims });

  const request: TestApp['request'] = async (document, variables, options = {}) => {
    const query = typeof document === 'string' ? document : print(document as DocumentNode);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const response = await app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLResponse<never>;
    return { ...body, status: response.status };
  };

  let server: { http: http.Server; websockets: { close(): Promise<void> } } | undefined;
  const listen: TestApp['listen'] = async () => {
    if (!server) {
      const httpServer = http.createServer(app);
      server = { http: httpServer, websockets: attachWebSocket(httpServer, app, services) };
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    }
    return `http://127.0.0.1:${(server.http.address() as AddressInfo).port}/graphql`;
  };

  return {
    app,
    services,
    config,
    logs,
    token,
    request,
    listen,
    async organization(name = 'Org') {
      const organization = await scopedTransaction(services.database.prisma, { kind: 'platform' }, (tx) =>
        tx.organization.create({ data: { name } }),
      );
      return { id: organization.id, token: await token({ organizationId: organization.id }) };
    },
    async close() {
      try {
        await services.changeFeed.close();
        if (server) {
          await server.websockets.close();
          server.http.closeAllConnections();
          await new Promise<void>((resolve) => server!.http.close(() => resolve()));
        }
        await stopServices(services);
      } finally {
        await database.drop();
      }
    },
  };
}

/** The data of a response that must have succeeded. */
export function ok<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`expected success, got ${JSON.stringify(response.errors ?? response)}`);
  }
  return response.data;
}

/** The codes of a response's errors. */
export function codes(response: GraphQLResponse<unknown>): unknown[] {
  return (response.errors ?? []).map((error) => error.extensions?.code);
}
