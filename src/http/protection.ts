import { GraphQLError, getNamedType, isListType, getNullableType, type DocumentNode, type ExecutionResult, type GraphQLField, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.ts';
import { DEFAULT_PAGE_SIZE } from '../graphql/pagination.ts';
import { checkOperationInput, walkInput } from '../graphql/input-bounds.ts';

/** Items of the list arguments of a field, lists inside input objects included. */
function listItems(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number {
  let items = 0;
  for (const arg of field.args) {
    walkInput(args[arg.name], arg.type, undefined, arg.name, (value, type) => {
      if (isListType(getNullableType(type)) && Array.isArray(value)) items += value.length;
      return undefined;
    });
  }
  return items;
}

/**
 * A field costs what its list arguments cause (n ids are n lookups or n writes; at
 * least 1) plus its children: connections multiply the cost of one edge by their page
 * size, and a list answered from a list argument (`nodes(ids)`) by its length. So nested
 * lists multiply, which is what makes a query expensive.
 */
const listAwareEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const items = listItems(field, args);
  const own = Math.max(1, items);
  const child = Math.max(1, childComplexity);
  if (getNamedType(field.type).name.endsWith('Connection')) {
    const size = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE) || DEFAULT_PAGE_SIZE;
    return own + Math.max(1, size) * child;
  }
  if (isListType(getNullableType(field.type)) && items > 0) return own + items * child;
  return own + childComplexity;
};

/** What the checks before execution (or a subscription's start) get from envelop. */
interface BeforeExecution {
  args: { document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null };
  setResultAndStopExecution: (result: ExecutionResult) => void;
}

const MAX_COST_CACHE_KEY_LENGTH = 2048;

/**
 * What of the variables a cost can depend on: numbers (page sizes), booleans
 * (`@include`/`@skip`), nulls and the lengths of lists, but no string's content. So
 * requests that differ only in cursors, ids or names share one entry of the cost cache.
 */
function costShape(value: unknown): unknown {
  if (typeof value === 'string') return '';
  if (Array.isArray(value)) return value.map(costShape);
  if (value !== null && typeof value === 'object') {
    const shape: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) shape[key] = costShape(item);
    return shape;
  }
  return value;
}

function useCostLimit(schema: GraphQLSchema, maximum: number): Plugin {
  // A cost depends on the document, the operation and the variables (page sizes). Clients
  // repeat the same few operations, so each document keeps its recent costs (for small
  // variables only, so the cache stays small); documents come from yoga's parse cache
  // and drop out of this one with it.
  const costsByDocument = new WeakMap<DocumentNode, LRUCache<string, number>>();
  const costOf = (document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined) => {
    let costs = costsByDocument.get(document);
    if (!costs) costsByDocument.set(document, (costs = new LRUCache({ max: 64 })));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(costShape(variables))}`;
    let cost = costs.get(key);
    if (cost === undefined) {
      cost = getComplexity({ schema, query: document, variables, operationName, estimators: [listAwareEstimator] });
      if (key.length <= MAX_COST_CACHE_KEY_LENGTH) costs.set(key, cost);
    }
    return cost;
  };
  // Checked before execution, not during validation: yoga caches validation per
  // document, and the same document costs more with larger page-size variables.
  const check = ({ args, setResultAndStopExecution }: BeforeExecution) => {
    let cost: number;
    try {
      cost = costOf(args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName ?? undefined);
    } catch {
      // Malformed variables or unknown operation: execution reports those itself.
      return;
    }
    if (cost > maximum) {
      setResultAndStopExecution({
        errors: [
          new GraphQLError(`Query cost ${cost} exceeds the maximum of ${maximum}; request smaller pages or fewer nested lists.`, {
            extensions: { code: 'BAD_USER_INPUT', cost, maximumCost: maximum },
          }),
        ],
      });
    }
  };
  return { onExecute: check, onSubscribe: check };
}

/** Limits checked before execution: rejected operations never reach resolvers or the database. */
export function queryProtections(config: Config, schema: GraphQLSchema): Plugin[] {
  // Report rejections as validation errors (not thrown), so they carry a code.
  const rejectAs = {
    propagateOnRejection: false,
    exposeLimits: true,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  const plugins: Plugin[] = [
    maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, ignoreIntrospection: true, flattenFragments: true, ...rejectAs }) as Plugin,
    maxAliasesPlugin({ n: config.MAX_QUERY_ALIASES, allowList: [], ...rejectAs }) as Plugin,
    maxDirectivesPlugin({ n: config.MAX_QUERY_DIRECTIVES, ...rejectAs }) as Plugin,
    // Token counting happens while parsing, where there is no validation context to report to.
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS, exposeLimits: true, propagateOnRejection: true }) as Plugin,
    // Bounds first: the cost is computed from the (bounded) variables.
    useInputBounds(schema, config),
    useCostLimit(schema, config.MAX_QUERY_COST),
  ];
  if (config.NODE_ENV === 'production') plugins.push(blockFieldSuggestionsPlugin() as Plugin);
  return plugins;
}

/**
 * Every input within its bounds before execution (lists, strings, JSON documents, the
 * variables as a whole; see checkOperationInput): BAD_USER_INPUT naming the argument
 * and the limit otherwise.
 */
function useInputBounds(schema: GraphQLSchema, config: Config): Plugin {
  const limits = {
    maxStringLength: config.MAX_STRING_LENGTH,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    maxJsonBytes: config.MAX_JSON_BYTES,
    maxVariablesBytes: config.MAX_VARIABLES_BYTES,
  };
  const check = ({ args, setResultAndStopExecution }: BeforeExecution) => {
    const refused = checkOperationInput(schema, args.document, args.operationName, args.variableValues, limits);
    if (refused) setResultAndStopExecution({ errors: [refused] });
  };
  return { onExecute: check, onSubscribe: check };
}
