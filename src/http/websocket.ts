import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode, MessageType, stringifyMessage, type ExecutionResult } from 'graphql-ws';
import { GraphQLError, type ExecutionArgs, type GraphQLFormattedError } from 'graphql';
import type { GraphQLParams } from 'graphql-yoga';
import { bearerToken, whenExpired } from '../security/auth.ts';
import type { Services } from '../services.ts';
import type { App } from './server.ts';
import { trustedParams, useTrustedDocuments } from './trusted-documents.ts';

/** Keep-alive of every socket: a protocol ping (answered by the client's pong) and a frame ping. */
export const WEBSOCKET_KEEP_ALIVE_MS = 12_000;

/** Closes a connection whose token expired (graphql-ws's 4401 Unauthorized). */
const TOKEN_EXPIRED_CLOSE_CODE = CloseCode.Unauthorized;

/**
 * How long an expired connection waits for its subscriptions to send their last message
 * (UNAUTHENTICATED) and complete before it is closed anyway.
 */
const EXPIRY_GRACE_MS = 1_000;

type SocketExtra = {
  socket: WebSocket;
  request: http.IncomingMessage;
};

/** What a connection holds besides graphql-ws's own state. */
interface Connection {
  ping: NodeJS.Timeout;
  cancelExpiry?: () => void;
  /** Set once the token expired: the socket closes as soon as no subscription is left. */
  expired: boolean;
}

/**
 * An error as HTTP and SSE send it: yoga leaves out `extensions.http` (an answer's status
 * and headers) and `extensions.unexpected`; graphql-ws would send them as they are.
 */
function formatted(error: GraphQLError): GraphQLFormattedError {
  const { extensions, ...rest } = error.toJSON();
  const { http: _http, unexpected: _unexpected, ...kept } = extensions ?? {};
  return Object.keys(kept).length > 0 ? { ...rest, extensions: kept } : rest;
}

/** The token of a WebSocket: `connection_init`'s `authorization`, else the upgrade request's header. */
function authorizationOf(connectionParams: Record<string, unknown> | undefined, request: http.IncomingMessage): string | null {
  const offered = connectionParams?.authorization ?? connectionParams?.Authorization;
  if (typeof offered === 'string') return offered;
  return request.headers.authorization ?? null;
}

/**
 * GraphQL over WebSocket (`graphql-transport-ws`) at /graphql on the same HTTP server.
 * Each operation runs through the same yoga instance as HTTP requests — the same
 * context (authentication, rate limit), limits, masking and audit — from a request
 * that carries the socket's token. Trusted documents follow the same rules as over HTTP:
 * a subscribe message names a document by `documentId` or the APQ extension, with
 * `query: ""`.
 */
export function attachWebSocket(server: http.Server, app: App, services: Services): { close(): Promise<void> } {
  const sockets = new WebSocketServer({ server, path: '/graphql', maxPayload: services.config.MAX_REQUEST_BYTES });
  const connections = new WeakMap<WebSocket, Connection>();
  const closeExpired = (socket: WebSocket) => socket.close(TOKEN_EXPIRED_CLOSE_CODE, 'UNAUTHENTICATED: token expired');
  const trusted = useTrustedDocuments(services.trustedDocuments, services.verifyToken);
  const disposable = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      execute: (args) => (args.rootValue as { execute: (a: unknown) => Promise<ExecutionResult> }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => Promise<ExecutionResult> }).subscribe(args),
      async onConnect(ctx) {
        const { socket, request } = ctx.extra;
        let expiresAt;
        try {
          ({ expiresAt } = await services.verifyToken(bearerToken(authorizationOf(ctx.connectionParams, request))));
        } catch (error) {
          socket.close(CloseCode.Forbidden, `UNAUTHENTICATED: ${(error as Error).message}`);
          return false;
        }
        const ping = setInterval(() => {
          if (socket.readyState === socket.OPEN) socket.send(stringifyMessage({ type: MessageType.Ping }));
        }, WEBSOCKET_KEEP_ALIVE_MS);
        ping.unref();
        const connection: Connection = { ping, expired: false };
        // A connection lives no longer than its token, subscribed or idle. Its subscriptions
        // end at the same moment with UNAUTHENTICATED (ChangeStream); the close follows
        // their last message.
        if (expiresAt !== null) {
          connection.cancelExpiry = whenExpired(expiresAt, () => {
            connection.expired = true;
            if (Object.keys(ctx.subscriptions).length === 0) closeExpired(socket);
            else setTimeout(() => closeExpired(socket), EXPIRY_GRACE_MS).unref();
          });
        }
        connections.set(socket, connection);
        return true;
      },
      onComplete(ctx, id) {
        const connection = connections.get(ctx.extra.socket);
        if (!connection?.expired || Object.keys(ctx.subscriptions).some((other) => other !== id)) return;
        // After the complete message, which graphql-ws sends once this returns.
        setTimeout(() => closeExpired(ctx.extra.socket), 0);
      },
      onClose(ctx) {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) return;
        clearInterval(connection.ping);
        connection.cancelExpiry?.();
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(formatted) } : undefined),
      onError: (_ctx, _id, _payload, errors) => errors.map(formatted),
      async onSubscribe(ctx, _id, payload) {
        const headers = new Headers({ 'content-type': 'application/json' });
        const authorization = authorizationOf(ctx.connectionParams, ctx.extra.request);
        if (authorization) headers.set('authorization', authorization);
        const requestId = ctx.extra.request.headers['x-request-id'];
        if (typeof requestId === 'string') headers.set('x-request-id', requestId);
        const request = new Request('http://localhost/graphql', { method: 'POST', headers });
        let params;
        try {
          // graphql-ws's payload is yoga's params but for a null operationName, which both treat as absent.
          params = await trustedParams(trusted, payload as GraphQLParams, request);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = app.getEnveloped({ request, params });
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          return [error as never];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        let contextValue;
        try {
          // Authentication and the rate limit, as for an HTTP request.
          contextValue = await contextFactory();
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
        return args;
      },
    },
    sockets,
    WEBSOCKET_KEEP_ALIVE_MS,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
