import crypto from 'node:crypto';
import fs from 'node:fs';
import { parse, validate, type GraphQLError, type GraphQLSchema } from 'graphql';
import type { GraphQLParams, OnParamsEventPayload, Plugin } from 'graphql-yoga';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Config } from '../config.ts';
import { AppError } from '../graphql/errors.ts';
import { bearerToken, type TokenVerifier } from '../security/auth.ts';

export type TrustedDocumentsMode = 'off' | 'allow' | 'require';

/** The manifest in force and how strictly it is applied; read and verified once, at startup. */
export interface TrustedDocuments {
  mode: TrustedDocumentsMode;
  /** Each document's text by the lowercase hex of its sha256. */
  documents: ReadonlyMap<string, string>;
}

/** `sha256:<hex>` or the bare hex, as manifest keys and request ids spell a document's id. */
const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/i;

export const sha256Hex = (text: string) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * PERSISTED_DOCUMENTS and PERSISTED_DOCUMENTS_FILE as they apply: the mode (`allow`
 * when only a manifest is set) and the manifest, each entry checked — its key the
 * sha256 of its document, which parses and is valid against the schema. Anything
 * else stops startup with a message naming the file and the entry.
 */
export function loadTrustedDocuments(config: Config, schema: GraphQLSchema): TrustedDocuments {
  const mode = config.PERSISTED_DOCUMENTS ?? (config.PERSISTED_DOCUMENTS_FILE ? 'allow' : 'off');
  const file = config.PERSISTED_DOCUMENTS_FILE;
  if (mode === 'off' || !file) return { mode, documents: new Map() };
  const problem = (message: string) => new Error(`PERSISTED_DOCUMENTS_FILE ${file}: ${message}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw problem(`cannot be read as JSON (${(error as Error).message})`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw problem('expected a JSON object { "<sha256 hex>": "<document>", ... }');
  }
  const documents = new Map<string, string>();
  for (const [key, document] of Object.entries(manifest)) {
    const entry = `entry "${key}"`;
    const hex = DOCUMENT_ID.exec(key)?.[1]?.toLowerCase();
    if (!hex) throw problem(`${entry}: the key is not a sha256 id (64 hex digits, optionally prefixed sha256:)`);
    if (typeof document !== 'string') throw problem(`${entry}: the document is not a string`);
    const actual = sha256Hex(document);
    if (actual !== hex) throw problem(`${entry}: the key is not the sha256 of its document (that is ${actual})`);
    let errors: readonly GraphQLError[];
    try {
      errors = validate(schema, parse(document));
    } catch (error) {
      errors = [error as GraphQLError];
    }
    if (errors.length > 0) throw problem(`${entry}: the document is not valid against the schema: ${errors.map((e) => e.message).join('; ')}`);
    documents.set(hex, document);
  }
  return { mode, documents };
}

/** A request error as yoga's own: 400 under application/graphql-response+json, 200 under application/json. */
const REQUEST_ERROR = { http: { status: 400, spec: true } };

type Params = GraphQLParams & { documentId?: unknown };

/** A document id as lowercase hex; BAD_USER_INPUT naming where it came from otherwise. */
function hexOf(id: unknown, where: string): string {
  const hex = typeof id === 'string' ? DOCUMENT_ID.exec(id)?.[1] : undefined;
  if (!hex) throw new AppError('BAD_USER_INPUT', `${where}: expected sha256:<64 hex digits> or the bare hex`, { argument: where, ...REQUEST_ERROR });
  return hex.toLowerCase();
}

/** The document id in the APQ extension, where useDocumentIdParameter also puts `documentId`. */
function requestedId(params: Params): string | null {
  const hash = (params.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
  return hash == null ? null : hexOf(hash, 'extensions.persistedQuery.sha256Hash');
}

/**
 * `documentId` (GraphQL over HTTP: in the body, or in the URL of a GET) moved to the
 * APQ extension, the one form the persisted-operations plugin reads, so both spellings
 * follow the same rules; beside a document's text an id is ignored (the text is what
 * runs, under the rules for text). With trusted documents off, a request that names a
 * document without its text is told so.
 */
function useDocumentIdParameter(mode: TrustedDocumentsMode): Plugin {
  return {
    onParams({ params: given, request, setParams }) {
      const { documentId: bodyId, ...params } = given as Params;
      const documentId =
        bodyId ?? (request.method === 'GET' && !params.query ? new URL(request.url).searchParams.get('documentId') : null);
      if (!params.query && documentId != null) {
        params.extensions = { ...params.extensions, persistedQuery: { version: 1, sha256Hash: hexOf(documentId, 'documentId') } };
      }
      if (bodyId !== undefined || documentId != null) setParams(params);
      if (mode === 'off' && !params.query && requestedId(params) !== null) {
        throw new AppError(
          'PERSISTED_QUERY_NOT_FOUND',
          "This service runs no trusted documents (PERSISTED_DOCUMENTS=off): send the document's text in `query`.",
          REQUEST_ERROR,
        );
      }
    },
  };
}

/**
 * Whether a request may send a document's text under `require`: service tokens may
 * (integrations build their own documents), user tokens may not (the frontend runs only
 * what it shipped). A request without a token is left to the context: UNAUTHENTICATED,
 * or introspection only where INTROSPECTION=public; an invalid token answers
 * UNAUTHENTICATED here.
 */
async function mayRunText(request: Request, verifyToken: TokenVerifier): Promise<boolean> {
  const authorization = request.headers.get('authorization');
  if (authorization === null) return true;
  return (await verifyToken(bearerToken(authorization))).actorType === 'SERVICE';
}

/**
 * Trusted documents (PERSISTED_DOCUMENTS, see docs/frontend.md): the request's document comes
 * from the manifest when it names one by id, before parsing, so the query limits, the
 * cost check, the rate limit and the response cache (which keys on the parsed document)
 * apply to it as to any text. The same plugins decide for WebSocket operations
 * (`trustedParams`).
 */
export function useTrustedDocuments(trusted: TrustedDocuments, verifyToken: TokenVerifier): Plugin[] {
  const plugins = [useDocumentIdParameter(trusted.mode)];
  if (trusted.mode === 'off') return plugins;
  const persisted = usePersistedOperations({
    extractPersistedOperationId: requestedId,
    getPersistedOperation: (id) => trusted.documents.get(id) ?? null,
    allowArbitraryOperations: trusted.mode === 'allow' || ((request) => mayRunText(request, verifyToken)),
    customErrors: {
      notFound: ({ params }) =>
        new AppError(
          'PERSISTED_QUERY_NOT_FOUND',
          `No trusted document has the id sha256:${requestedId(params)}: it is not in the service's manifest (PERSISTED_DOCUMENTS_FILE), which must come from the frontend build that sends it.`,
          REQUEST_ERROR,
        ),
      persistedQueryOnly: () =>
        new AppError(
          'PERSISTED_QUERY_ONLY',
          'User tokens may only run the trusted documents of the frontend (PERSISTED_DOCUMENTS=require): send `documentId` instead of `query`.',
          REQUEST_ERROR,
        ),
      keyNotFound: () =>
        new AppError('BAD_USER_INPUT', "Send the document's text in `query` or its id in `documentId`.", REQUEST_ERROR),
    },
  });
  return [...plugins, persisted as Plugin];
}

/**
 * The params of an operation that does not pass through yoga's HTTP handling (a
 * WebSocket subscribe message) as the trusted-documents plugins leave them: the
 * manifest's text for an id, or the request's own text where it may send text; their
 * errors are thrown. `query: ""` counts as no text (graphql-ws requires a string).
 */
export async function trustedParams(plugins: Plugin[], given: GraphQLParams, request: Request): Promise<GraphQLParams> {
  let params = given;
  const context = {};
  for (const plugin of plugins) {
    await plugin.onParams?.({
      params,
      request,
      context,
      setParams: (next: GraphQLParams) => (params = next),
    } as unknown as OnParamsEventPayload<Record<string, unknown>>);
  }
  return params;
}
