import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';
import { AppError, databaseFailure, isUniqueViolation } from '../graphql/errors.ts';

/**
 * Gives every error of an execution a contract code:
 * - our AppErrors keep theirs;
 * - request-level errors of graphql-js (variables or arguments that do not coerce)
 *   become BAD_USER_INPUT;
 * - failures of the database (unreachable, lost connection, timeouts) say so and are
 *   retryable (databaseFailure);
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
  const answer = original instanceof AppError ? original : original && databaseFailure(original);
  if (answer) {
    // Failures of ours (the database) are logged with what caused them, and carry the request id.
    const ours = answer.code === 'INTERNAL_SERVER_ERROR';
    if (ours) ctx.logger.error({ err: answer.originalError ?? original, path: error.path, requestId: ctx.requestId }, answer.message);
    return new GraphQLError(answer.message, {
      nodes: error.nodes,
      path: error.path,
      extensions: ours ? { ...answer.extensions, requestId: ctx.requestId } : answer.extensions,
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
  ctx.logger.error({ err: original ?? error, path: error.path, requestId: ctx.requestId }, 'unexpected error');
  return new GraphQLError('Unexpected error', {
    nodes: error.nodes,
    path: error.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: ctx.requestId },
  });
}
