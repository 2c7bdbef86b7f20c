import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';
import { AppError, isUniqueViolation } from '../graphql/errors.ts';

/**
 * Gives every error of an execution a contract code:
 * - our AppErrors keep theirs;
 * - request-level errors of graphql-js (variables or arguments that do not coerce)
 *   become BAD_USER_INPUT;
 * - anything else is unexpected: logged with the request id and replaced by a bare
 *   INTERNAL_SERVER_ERROR that reveals nothing.
 */
export function useErrorCodes(): Plugin<Context> {
  return {
    // Protections (depth, aliases, ...) report plain GraphQLErrors from validation.
    onValidate() {
      return ({ result, setResult }) => {
        if (result.some((error) => typeof error.extensions?.code !== 'string')) {
          setResult(
            result.map((error) =>
              typeof error.extensions?.code === 'string'
                ? error
                : new GraphQLError(error.message, {
                    nodes: error.nodes,
                    extensions: { ...error.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
                  }),
            ),
          );
        }
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult, args }) {
          const single = result as ExecutionResult;
          if (!single.errors?.length) return;
          const ctx = args.contextValue as Context;
          setResult({ ...single, errors: single.errors.map((error) => withCode(error, ctx)) });
        },
      };
    },
    // A subscription's errors: when it starts (e.g. a refused cursor), in each event, and
    // a failure of its stream (e.g. the database went away), which ends it.
    onSubscribe({ args }) {
      const ctx = args.contextValue as Context;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result) && result.errors?.length) {
            setResult({ ...result, errors: result.errors.map((error) => withCode(error, ctx)) });
          }
          return {
            onNext({ result, setResult }) {
              if (result.errors?.length) setResult({ ...result, errors: result.errors.map((error) => withCode(error, ctx)) });
            },
          };
        },
        onSubscribeError({ error, setError }) {
          const graphqlError =
            error instanceof GraphQLError ? error : new GraphQLError('subscription failed', { path: [], originalError: error as Error });
          setError(withCode(graphqlError, ctx));
        },
      };
    },
  };
}

/**
 * A failure of the request outside any field (a plugin's own database work): logged
 * and masked like an unexpected error of a field, without a path.
 */
export function maskedFailure(error: unknown, ctx: Context): GraphQLError {
  const coded = withCode(new GraphQLError('request failed', { path: [], originalError: error as Error }), ctx);
  return new GraphQLError(coded.message, { extensions: coded.extensions });
}

function withCode(error: GraphQLError, ctx: Context): GraphQLError {
  const original = error.originalError;
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      nodes: error.nodes,
      path: error.path,
      extensions: original.extensions,
    });
  }
  if (typeof error.extensions?.code === 'string' && !original) return error;
  if (!error.path) {
    return new GraphQLError(error.message, { nodes: error.nodes, extensions: { code: 'BAD_USER_INPUT' } });
  }
  // The row an update or delete named vanished meanwhile (a concurrent delete).
  if ((original as { code?: string } | undefined)?.code === 'P2025') {
    return new GraphQLError('the object no longer exists', { nodes: error.nodes, path: error.path, extensions: { code: 'NOT_FOUND' } });
  }
  if (isUniqueViolation(original)) {
    return new GraphQLError('the object already exists', {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: 'CONFLICT' },
    });
  }
  const infrastructure = infrastructureFailure(original);
  ctx.logger.error({ err: original ?? error, path: error.path, requestId: ctx.requestId }, infrastructure ?? 'unexpected error');
  if (infrastructure) {
    return new GraphQLError(infrastructure, {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', retryable: true, requestId: ctx.requestId },
    });
  }
  return new GraphQLError('Unexpected error', {
    nodes: error.nodes,
    path: error.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: ctx.requestId },
  });
}

// PostgreSQL SQLSTATEs and Prisma/Node codes that mean "the database is not there".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  'P1001', 'P1002', 'P1017', 'P2024', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006',
]);
const CANCELLED_CODES = new Set(['57014', 'P2028']);

/**
 * A short, safe explanation when a failure comes from the database being
 * unreachable or too slow, so callers know to retry; undefined otherwise.
 */
function infrastructureFailure(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    const text = typeof message === 'string' ? message : '';
    if ((typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || /ECONNREFUSED|Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(text)) {
      return 'The database is unavailable; retry shortly.';
    }
    if ((typeof code === 'string' && CANCELLED_CODES.has(code)) || /statement timeout|canceling statement|Transaction already closed|expired transaction/i.test(text)) {
      return 'The operation took too long and was cancelled; retry shortly.';
    }
    current = cause ?? (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}
