import {
  getNamedType,
  getOperationAST,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database.ts';
import type { Context } from '../graphql/context.ts';
import type { Principal } from '../security/auth.ts';
import { maskedFailure } from './error-masking.ts';

/** What a document's fields allow (see NOT_CACHED in src/graphql/builder.ts). */
interface DocumentRule {
  cacheable: boolean;
  /** It reads `viewer`, whose answer is the token's own (subject, actor type, scopes). */
  readsViewer: boolean;
  /** Stands for the document in keys: equal documents share it while the parse cache keeps them. */
  id: number;
}

interface Entry {
  /** The snapshot the answer was read in. */
  snapshot: string;
  /** The answer as it was sent; only the text is kept (hits are sent as it is). */
  json: string;
}

type ExecuteHooks = Exclude<Awaited<ReturnType<NonNullable<Plugin<Context>['onExecute']>>>, void>;

/** Keys beyond this (large variables) are not cached. */
const MAX_KEY_LENGTH = 4_096;
/** Bytes of keys remembered as asked once (see `askedOnce`). */
const ASKED_ONCE_BYTES = 2 * 1024 * 1024;

/**
 * A response cache that is never stale: a cached answer is served only when no change
 * of its organization or of the platform catalog has committed since the snapshot it
 * was read in — one statement per hit (`change_feed_changed_since`), on whichever
 * instance the change committed; a miss costs no statement of its own (the snapshot
 * comes with the transaction's scope statement, see RequestDb.readSnapshot). Query
 * operations only, and only documents whose every field may be cached. The key is
 * everything the answer depends on: the document, operation and variables, the
 * organization, workspace binding and scopes, and the token's subject and actor type
 * when the document reads `viewer`. Hits skip the database work and the serialization
 * (the cached JSON is sent as it is); the query limits and the rate limit run before.
 * An answer is kept from the second time its question is asked.
 */
export function useResponseCache(options: { schema: GraphQLSchema; database: Database; maxBytes: number }): Plugin<Context> {
  const entries = new LRUCache<string, Entry>({
    maxSize: options.maxBytes,
    // UTF-16 at worst, for the JSON and the key.
    sizeCalculation: (entry, key) => 2 * (entry.json.length + key.length) + 64,
  });
  // An answer is kept from the second time its question is asked: a question asked once
  // (a cursor deep in a list, a one-off filter) neither costs the memory and garbage
  // collection of an entry nor pushes out the answers asked again and again.
  const askedOnce = new LRUCache<string, true>({ maxSize: ASKED_ONCE_BYTES, sizeCalculation: (_value, key) => 2 * key.length + 64 });
  const rules = new WeakMap<DocumentNode, Map<string, DocumentRule>>();
  const scopeKeys = new WeakMap<Principal, string>();
  let documents = 0;

  const ruleOf = (document: DocumentNode, operationName: string | null | undefined): DocumentRule => {
    let byOperation = rules.get(document);
    if (!byOperation) rules.set(document, (byOperation = new Map()));
    const name = operationName ?? '';
    let rule = byOperation.get(name);
    if (!rule) {
      rule = { ...inspect(options.schema, document, operationName), id: ++documents };
      byOperation.set(name, rule);
    }
    return rule;
  };

  const scopeKey = (principal: Principal) => {
    let key = scopeKeys.get(principal);
    if (key === undefined) scopeKeys.set(principal, (key = [...principal.scopes].sort().join(' ')));
    return key;
  };

  const check = async (organizationId: string, since: string) => {
    const [row] = await options.database.query<{ changed: boolean }>(
      'SELECT changed FROM change_feed_changed_since($1::uuid, $2::pg_snapshot)',
      [organizationId, since],
    );
    return row!.changed;
  };

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'query') return;
      const rule = ruleOf(args.document, args.operationName);
      if (!rule.cacheable) return;
      const { principal } = args.contextValue as Context;
      if (!principal.organizationId) return;
      const key = [
        rule.id,
        args.operationName ?? '',
        principal.organizationId,
        principal.workspaceId ?? '',
        scopeKey(principal),
        rule.readsViewer ? `${principal.actorType}:${principal.subject}` : '',
        JSON.stringify(args.variableValues ?? {}),
      ].join('\u0000');
      if (key.length > MAX_KEY_LENGTH) return;
      const fill: ExecuteHooks = {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result) || result.errors?.length || !result.data) return;
          // Only an answer read in one transaction has one snapshot to be checked against.
          const snapshot = (args.contextValue as Context).db.readSnapshot;
          if (snapshot === undefined) return;
          // Stored when the answer is serialized for the response: once, as it is sent.
          const serialize = (result as { stringify?: (r: unknown) => string }).stringify ?? JSON.stringify;
          setResult({
            ...result,
            stringify: (sent: ExecutionResult) => {
              const json = serialize(sent);
              entries.set(key, { snapshot, json });
              return json;
            },
          } as ExecutionResult);
        },
      };
      const cached = entries.get(key);
      if (!cached) {
        if (askedOnce.delete(key)) return fill;
        askedOnce.set(key, true);
        return;
      }
      return check(principal.organizationId, cached.snapshot).then((changed) => {
        if (!changed) {
          setResultAndStopExecution({ data: null, stringify: () => cached.json } as ExecutionResult);
          return;
        }
        entries.delete(key);
        return fill;
      }, (error: unknown) => {
        setResultAndStopExecution({ errors: [maskedFailure(error, args.contextValue as Context)] });
      });
    },
  };
}

/** Whether every field the operation selects may be cached, and whether it reads `viewer`. */
function inspect(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) {
  const operation = getOperationAST(document, operationName);
  const result = { cacheable: Boolean(operation), readsViewer: false };
  if (!operation) return result;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const walked = new Set<string>();
  const walk = (selections: SelectionSetNode, parent: GraphQLNamedType | null | undefined) => {
    for (const selection of selections.selections) {
      if (!result.cacheable) return;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__typename') continue;
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
        if (!field || name.startsWith('__') || field.extensions?.responseCache === false) {
          result.cacheable = false;
          return;
        }
        if (name === 'viewer' && parent === schema.getQueryType()) result.readsViewer = true;
        if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || walked.has(fragment.name.value)) continue;
        walked.add(fragment.name.value);
        walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
      }
    }
  };
  walk(operation.selectionSet, schema.getQueryType());
  return result;
}
