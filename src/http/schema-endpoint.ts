import crypto from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { printSchema } from '../schema.ts';
import { AppError } from '../graphql/errors.ts';

export const SCHEMA_PATH = '/schema.graphql';

export type Introspection = 'public' | 'authenticated' | 'disabled';

interface PrintedSchema {
  text: string;
  etag: string;
}

/** The ETags of an If-None-Match header (compared weakly, as RFC 9110 says for it). */
function matches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

/**
 * The printed schema (what `schema.graphql` holds: descriptions and `@auth` included)
 * at GET /schema.graphql, so that integrations can follow the contract. Same rule as
 * introspection: anyone when public, a valid token (counted by the rate limit) when
 * authenticated, nobody when disabled. `admit` is the request's authentication.
 */
export function useSchemaEndpoint(introspection: Introspection, admit: (request: Request) => Promise<unknown>): Plugin {
  let printed: PrintedSchema | undefined;
  const schema = () => {
    if (!printed) {
      const text = printSchema();
      printed = { text, etag: `"${crypto.createHash('sha256').update(text).digest('base64url')}"` };
    }
    return printed;
  };
  return {
    async onRequest({ url, request, fetchAPI, endResponse }) {
      if (url.pathname !== SCHEMA_PATH) return;
      const refuse = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
        endResponse(
          new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
            status,
            headers: { 'content-type': 'application/json', ...headers },
          }),
        );
      if (request.method !== 'GET') return refuse(405, 'BAD_USER_INPUT', 'Only GET is supported.', { allow: 'GET' });
      if (introspection === 'disabled') return refuse(403, 'FORBIDDEN', 'Introspection is disabled on this service.');
      try {
        await admit(request);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const http = error.extensions.http as { status?: number; headers?: Record<string, string> } | undefined;
        return refuse(http?.status ?? 403, error.code, error.message, http?.headers);
      }
      const { text, etag } = schema();
      const headers = {
        etag,
        // Revalidated on every use (cheap with the ETag); only the caller's own cache when it took a token.
        'cache-control': introspection === 'public' ? 'no-cache' : 'private, no-cache',
      };
      if (matches(request.headers.get('if-none-match'), etag)) {
        return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
      }
      endResponse(new fetchAPI.Response(text, { headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' } }));
    },
  };
}
