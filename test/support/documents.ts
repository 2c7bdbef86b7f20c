import type { App } from '../../src/http/server.ts';
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
  options: { token?: string; method?: 'GET' | 'POST' } = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
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
