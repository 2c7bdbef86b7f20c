import crypto from 'node:crypto';
import { GraphQLError, Kind, getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { createYoga, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { useJit } from './jit.ts';
import { schema } from '../schema.ts';
import { bearerToken, type Principal } from '../security/auth.ts';
import { RequestDb, type Context } from '../graphql/context.ts';
import { useErrorCodes } from './error-masking.ts';
import { graphQLMetrics, useMetricsEndpoint } from './metrics.ts';
import { documentCaches, queryProtections } from './protection.ts';
import { unauthenticated } from '../graphql/errors.ts';
import { useResponseCache } from './response-cache.ts';
import { useTrustedDocuments } from './trusted-documents.ts';
import { useGraphiQL } from './graphiql.ts';
import { useSchemaEndpoint, type Introspection } from './schema-endpoint.ts';
import { ConnectionLost } from '../db/failures.ts';
import type { Services } from '../services.ts';
import { useSharedSubscriptions } from '../modules/changes/shared-execution.ts';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Stands in for the caller of an unauthenticated introspection query (INTROSPECTION=public). */
const ANONYMOUS: Principal = {
  subject: 'anonymous',
  actorType: 'USER',
  organizationId: null,
  workspaceId: null,
  scopes: [],
  expiresAt: null,
};

export interface AppOptions {
  /** Pre-filled into GraphiQL's headers (development only). */
  graphiqlToken?: string;
  /** True once shutdown has begun: readiness fails so load balancers stop routing here. */
  isDraining?: () => boolean;
  /** GraphQL execution spans, when tracing is on (observability/tracing.ts). */
  tracing?: Plugin;
}

export type App = YogaServerInstance<Record<string, never>, Context>;

function onlyIntrospection(document: DocumentNode): boolean {
  return document.definitions.every(
    (definition) =>
      definition.kind !== Kind.OPERATION_DEFINITION ||
      definition.selectionSet.selections.every(
        (selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'),
      ),
  );
}

/**
 * Anonymous callers may introspect and nothing else: any other operation, a subscription
 * too, answers 401 UNAUTHENTICATED as a request without a token does where introspection
 * is not public.
 */
function useAnonymousIntrospectionOnly(): Plugin<Context> {
  const refused = (args: ExecutionArgs) =>
    (args.contextValue as Context).principal === ANONYMOUS && !onlyIntrospection(args.document);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (refused(args)) setResultAndStopExecution({ errors: [unauthenticated('missing bearer token')] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (refused(args)) setResultAndStopExecution({ errors: [unauthenticated('missing bearer token')] });
    },
  };
}

/** Requests larger than the limit are refused before their body is read. */
function useRequestSizeLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const refuse = (status: number, message: string) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }), {
            status,
            headers: { 'content-type': 'application/json' },
          }),
        );
      const length = request.headers.get('content-length');
      if (length === null) return refuse(411, 'A Content-Length header is required.');
      if (!/^\d+$/.test(length) || Number(length) > maxBytes) {
        return refuse(413, `The request body exceeds ${maxBytes} bytes.`);
      }
    },
  };
}

/**
 * `plugin` with its request hook consulted for requests of `path` only: yoga's readiness
 * check matches every other request's URL against a URLPattern too (about 1 % of a
 * catalog page's CPU).
 */
function onPathOnly(path: string, plugin: Plugin): Plugin {
  const onRequest = plugin.onRequest;
  return onRequest ? { ...plugin, onRequest: (payload) => (payload.url.pathname === path ? onRequest(payload) : undefined) } : plugin;
}

/** Gives up on an operation that outlives the request deadline. */
function useDeadline(timeoutMs: number): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<ExecutionResult>((resolve) => {
          timer = setTimeout(
            () =>
              resolve({
                errors: [
                  new GraphQLError(`The request did not finish within ${timeoutMs} ms.`, {
                    extensions: { code: 'INTERNAL_SERVER_ERROR', retryable: true },
                  }),
                ],
              }),
            timeoutMs,
          );
        });
        try {
          return await Promise.race([executeFn(args) as Promise<ExecutionResult>, deadline]);
        } finally {
          clearTimeout(timer);
        }
      });
    },
  };
}

/**
 * Runs a query operation with its database work in one shared transaction, committed
 * when execution ends. A commit that lost its connection is answered as an error.
 */
async function executeSharingReads<R>(executeFn: (args: ExecutionArgs) => Promise<R> | R, args: ExecutionArgs): Promise<R | ExecutionResult> {
  const db = (args.contextValue as Context).db;
  db.shareReads();
  let result: R;
  try {
    result = await executeFn(args);
  } catch (error) {
    await db.endSharedReads().catch(() => {});
    throw error;
  }
  // A failed commit fails the operation (see RequestDb.endSharedReads).
  try {
    await db.endSharedReads();
  } catch (error) {
    if (!(error instanceof ConnectionLost)) throw error;
    return { errors: [new GraphQLError(error.message, { originalError: error })] };
  }
  return result;
}

/**
 * A query's database work shares one transaction (the only writes there are audit
 * records of credential reads). When that transaction lost its connection, the
 * operation runs once more, from scratch, on a fresh connection and with fresh
 * loaders, and only that answer goes out. Mutations keep one transaction per
 * operation, so a failed write rolls back alone and its audit record still lands.
 */
function useSharedReads(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      setExecuteFn(async (executeArgs) => {
        const ctx = executeArgs.contextValue as Context;
        const result = await executeSharingReads(executeFn, executeArgs);
        if (!ctx.db.connectionLost) return result;
        ctx.logger.warn({ requestId: ctx.requestId }, 'database connection lost during a query: running it again on a fresh connection');
        const retry: Context = { ...ctx, db: ctx.db.renewed(), loaders: new Map() };
        return executeSharingReads(executeFn, { ...executeArgs, contextValue: retry });
      });
    },
  };
}

export function createApp(services: Services, options: AppOptions = {}): App {
  const { database, logger, config, metrics } = services;
  const recorded = metrics && graphQLMetrics(metrics, config.METRICS_MAX_OPERATION_NAMES);
  const introspection: Introspection = config.INTROSPECTION ?? (config.NODE_ENV === 'production' ? 'authenticated' : 'public');
  /** Who sends the request: verified, counted by the rate limit, of an existing tenant. */
  const principalOf = async (request: Request): Promise<Principal> => {
    const authorization = request.headers.get('authorization');
    if (authorization === null && introspection === 'public') return ANONYMOUS;
    const principal = await services.verifyToken(bearerToken(authorization));
    await services.rateLimiter.consume(principal);
    await services.tenants.assertActive(principal);
    return principal;
  };
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    logging: logger.child({ component: 'yoga' }),
    maskedErrors: true,
    batching: config.MAX_BATCH_OPERATIONS > 0 ? { limit: config.MAX_BATCH_OPERATIONS } : false,
    // useRequestSizeLimit requires a Content-Length within the limit, and node:http reads
    // no body past it; yoga's own limit would pipe every body through a counting stream.
    maxRequestBodySize: false,
    parserAndValidationCache: documentCaches(),
    // Served by useGraphiQL below, from installed packages only.
    graphiql: false,
    // Hooks run in this order. Error codes, then metrics, come before every plugin that
    // can stop an execution, so their after-execution hooks see every result, stopped
    // ones included; the metrics admit operation names only after all those checks.
    plugins: [
      useGraphiQL('/graphql', {
        title: 'Model control plane',
        defaultQuery: '{\n  viewer {\n    subject\n    scopes\n    organization { name }\n  }\n}\n',
        ...(options.graphiqlToken ? { headers: JSON.stringify({ Authorization: `Bearer ${options.graphiqlToken}` }) } : {}),
      }),
      useSchemaEndpoint(introspection, principalOf),
      ...(metrics ? [useMetricsEndpoint(metrics, config.METRICS_TOKEN)] : []),
      useRequestSizeLimit(config.MAX_REQUEST_BYTES),
      useCSRFPrevention({ requestHeaders: ['authorization', 'x-graphql-yoga-csrf'] }),
      onPathOnly(
        '/readyz',
        useReadinessCheck({
          endpoint: '/readyz',
          check: async () => !options.isDraining?.() && (await database.ping()),
        }),
      ),
      useErrorCodes(),
      ...(recorded ? [recorded.recording] : []),
      ...useTrustedDocuments(services.trustedDocuments, services.verifyToken),
      ...queryProtections(config, schema),
      ...(introspection === 'disabled' ? [useDisableIntrospection()] : []),
      useAnonymousIntrospectionOnly(),
      ...(config.RESPONSE_CACHE_MAX_BYTES > 0
        ? [useResponseCache({ schema, database, maxBytes: config.RESPONSE_CACHE_MAX_BYTES })]
        : []),
      useJit(),
      useSharedSubscriptions(services.changeFeed.groups),
      useSharedReads(),
      useDeadline(config.REQUEST_TIMEOUT_MS),
      ...(options.tracing ? [options.tracing] : []),
      ...(recorded ? [recorded.admission] : []),
    ],
    context: async ({ request }) => {
      const offered = request.headers.get('x-request-id');
      const requestId = offered && REQUEST_ID_PATTERN.test(offered) ? offered : crypto.randomUUID();
      const principal = await principalOf(request);
      return {
        requestId,
        principal,
        // Not a child logger per request: every line a request logs names its requestId
        // itself, and a child costs a redaction pass over its bindings on every request.
        logger,
        services,
        db: new RequestDb(database.prisma, principal),
        loaders: new Map(),
      };
    },
  });
}
