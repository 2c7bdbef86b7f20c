import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from './context.ts';
import { AppError, isUniqueViolation } from './errors.ts';

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
  };
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
