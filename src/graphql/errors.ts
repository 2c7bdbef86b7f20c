import { GraphQLError } from 'graphql';
import { ConnectionLost, hasSqlState, isCancellation, isConnectionFailure } from '../db/failures.ts';

export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'BAD_USER_INPUT',
  'UPSTREAM_ERROR',
  'RATE_LIMITED',
  'CURSOR_EXPIRED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_ONLY',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An expected failure: its message and extensions are safe to show to the caller;
 * `cause`, what it answers for, is only logged.
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { extensions: { code, ...extensions }, originalError: cause instanceof Error ? cause : undefined });
    this.code = code;
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);

export const badInput = (argument: string, message: string, extensions: Record<string, unknown> = {}) =>
  new AppError('BAD_USER_INPUT', `${argument}: ${message}`, { argument, ...extensions });

export const conflict = (message: string) => new AppError('CONFLICT', message);

export const forbidden = (message: string, extensions: Record<string, unknown> = {}) =>
  new AppError('FORBIDDEN', message, extensions);

/**
 * No valid credentials: HTTP 401 with the Bearer challenge of RFC 6750, naming the
 * `invalid_token` error when a token was presented (`message` is one of the fixed texts
 * of this service, never the token). `extensions.http` is for HTTP only (WebSocket strips it).
 */
export const unauthenticated = (message: string, tokenPresented = false) =>
  new AppError('UNAUTHENTICATED', message, {
    http: {
      status: 401,
      headers: { 'WWW-Authenticate': tokenPresented ? `Bearer error="invalid_token", error_description="${message}"` : 'Bearer' },
    },
  });

export function errorCodeOf(error: unknown): ErrorCode {
  if (error instanceof AppError) return error.code;
  if (error instanceof GraphQLError) {
    if (error.originalError instanceof AppError) return error.originalError.code;
    const code = error.extensions?.code;
    if (typeof code === 'string') return code as ErrorCode;
  }
  return 'INTERNAL_SERVER_ERROR';
}

/** Prisma's code for a unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2002';
}

/** A foreign-key violation (the referenced row is gone): Prisma's code, or the SQLSTATE of a raw query. */
export function isForeignKeyViolation(error: unknown): boolean {
  return (typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2003') || hasSqlState(error, '23503');
}

const RETRY_SOON = { status: 503, headers: { 'Retry-After': '1' } };

/**
 * The answer to a failure of the database rather than of the request (see
 * db/failures.ts), or undefined for any other error. For a write, `repeatable` says
 * whether repeating it after an unknown outcome is safe: it would then answer CONFLICT
 * or NOT_FOUND, or set the same state again.
 */
export function databaseFailure(error: unknown, write?: { repeatable: boolean }): AppError | undefined {
  if (write && error instanceof ConnectionLost && error.outcome === 'unknown') {
    const { repeatable } = write;
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      'The database connection was lost while the change was being committed: it may or may not have been applied. ' +
        (repeatable ? 'Repeating the request is safe.' : 'Check whether it was applied before repeating it.'),
      { outcome: 'unknown', retryable: repeatable, http: repeatable ? RETRY_SOON : { status: 503 } },
      error,
    );
  }
  if (error instanceof ConnectionLost || isConnectionFailure(error)) {
    return new AppError(
      'INTERNAL_SERVER_ERROR',
      `The database is unavailable; ${write ? 'nothing was changed. Retry' : 'retry'} shortly.`,
      { retryable: true, http: RETRY_SOON },
      error,
    );
  }
  if (isCancellation(error)) {
    return new AppError('INTERNAL_SERVER_ERROR', 'The operation took too long and was cancelled; retry shortly.', { retryable: true }, error);
  }
  return undefined;
}
