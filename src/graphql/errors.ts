import { GraphQLError } from 'graphql';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BAD_USER_INPUT'
  | 'UPSTREAM_ERROR'
  | 'RATE_LIMITED'
  | 'CURSOR_EXPIRED'
  | 'INTERNAL_SERVER_ERROR';

/** An expected failure: its message and extensions are safe to show to the caller. */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extensions } });
    this.code = code;
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);

export const badInput = (argument: string, message: string, extensions: Record<string, unknown> = {}) =>
  new AppError('BAD_USER_INPUT', `${argument}: ${message}`, { argument, ...extensions });

export const conflict = (message: string) => new AppError('CONFLICT', message);

export const forbidden = (message: string, extensions: Record<string, unknown> = {}) =>
  new AppError('FORBIDDEN', message, extensions);

export const unauthenticated = (message: string) =>
  new AppError('UNAUTHENTICATED', message, { http: { status: 401 } });

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

/** Prisma's code for a foreign-key violation (the referenced row is gone). */
export function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'P2003';
}
