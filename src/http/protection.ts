import { GraphQLError, getNamedType, isListType, getNullableType, visit, type DocumentNode, type GraphQLSchema, type ValidationContext } from 'graphql';
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

/**
 * Connections cost their page size times the cost of one edge; lists of IDs cost
 * their length times one element; every other field costs 1 plus its children.
 * So nested connections multiply, which is what makes a query expensive.
 */
const connectionAwareEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const named = getNamedType(field.type);
  if (named.name.endsWith('Connection')) {
    const size = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE) || DEFAULT_PAGE_SIZE;
    return 1 + Math.max(1, size) * Math.max(1, childComplexity);
  }
  if (isListType(getNullableType(field.type)) && Array.isArray(args.ids)) {
    return 1 + Math.max(1, args.ids.length) * Math.max(1, childComplexity);
  }
  return 1 + childComplexity;
};

const MAX_COST_CACHE_KEY_LENGTH = 2048;

function useCostLimit(schema: GraphQLSchema, maximum: number): Plugin {
  // A cost depends on the document, the operation and the variables (page sizes). Clients
  // repeat the same few operations, so each document keeps its recent costs (for small
  // variables only, so the cache stays small); documents come from yoga's parse cache
  // and drop out of this one with it.
  const costsByDocument = new WeakMap<DocumentNode, LRUCache<string, number>>();
  const costOf = (document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined) => {
    let costs = costsByDocument.get(document);
    if (!costs) costsByDocument.set(document, (costs = new LRUCache({ max: 64 })));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(variables)}`;
    let cost = costs.get(key);
    if (cost === undefined) {
      cost = getComplexity({ schema, query: document, variables, operationName, estimators: [connectionAwareEstimator] });
      if (key.length <= MAX_COST_CACHE_KEY_LENGTH) costs.set(key, cost);
    }
    return cost;
  };
  // Checked before execution, not during validation: yoga caches validation per
  // document, and the same document costs more with larger page-size variables.
  return {
    onExecute({ args, setResultAndStopExecution }) {
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
    },
  };
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
    useCostLimit(schema, config.MAX_QUERY_COST),
  ];
  if (config.NODE_ENV === 'production') plugins.push(blockFieldSuggestionsPlugin() as Plugin);
  return plugins;
}

// NUL cannot be stored by PostgreSQL and lone surrogates are not valid UTF-8.
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function findUnstorable(value: unknown, path: string, depth = 0): string | null {
  if (depth > 32) return null;
  if (typeof value === 'string') return UNSTORABLE_TEXT.test(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const found = findUnstorable(key, path, depth + 1) ?? findUnstorable(inner, `${path}.${key}`, depth + 1);
      if (found) return found;
    }
  }
  return null;
}

/** Text no column can hold is refused up front, wherever it appears in the input. */
export function useStorableText(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let found = findUnstorable(args.variableValues ?? {}, '$variables');
      if (!found) {
        visit(args.document, {
          StringValue(node) {
            if (!found && UNSTORABLE_TEXT.test(node.value)) found = 'a string literal';
          },
        });
      }
      if (found) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`${found}: text must not contain NUL characters or unpaired surrogates`, {
              extensions: { code: 'BAD_USER_INPUT', argument: found },
            }),
          ],
        });
      }
    },
  };
}
