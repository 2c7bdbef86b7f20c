import type { App } from '../../src/http/server.ts';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { GraphQLResponse } from './harness.ts';

/** What identifies an operation in a request: its text, a document id (either spelling) or the APQ extension. */
export interface OperationBody {
  query?: string;
  documentId?: string;
  operationName?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/**
 * Sends an operation as it is written, to the real endpoint: POSTed as JSON, or as
 * GET parameters (GraphQL over HTTP; `documentId` among them).
 */
export async function send<T = any>(
  app: App,
  body: OperationBody,
  options: { token?: string; method?: 'GET' | 'POST'; accept?: string } = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  if (options.method === 'GET') {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(body)) {
      if (value !== undefined) search.set(name, typeof value === 'string' ? value : JSON.stringify(value));
    }
    response = await app.fetch(`http://test.local/graphql?${search}`, { headers });
  } else {
    response = await app.fetch('http://test.local/graphql', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
  return { ...((await response.json()) as GraphQLResponse<T>), status: response.status };
}

/** The id GraphQL Code Generator gives a typed document it wrote to the manifest (`persistedDocuments: true`). */
export function documentIdOf(document: unknown): string {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('not a document of a persisted-documents build');
  return hash;
}

/** Runs a generated typed document by its id alone, as a frontend built with trusted documents does. */
export function runById<T, V>(
  app: App,
  document: TypedDocumentNode<T, V>,
  variables: V,
  options: { token?: string; method?: 'GET' | 'POST' } = {},
): Promise<GraphQLResponse<T>> {
  return send<T>(app, { documentId: documentIdOf(document), variables: variables as Record<string, unknown> }, options);
}
