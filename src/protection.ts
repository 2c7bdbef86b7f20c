import { GraphQLError, getNamedType, isListType, getNullableType, visit, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Config } from './config.ts';
import { DEFAULT_PAGE_SIZE } from './pagination.ts';

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

function useCostLimit(schema: GraphQLSchema, maximum: number): Plugin {
  return {
    onValidate({ params, context, setResult }) {
      const yogaParams = (context as { params?: { variables?: Record<string, unknown>; operationName?: string } }).params;
      let cost: number;
      try {
        cost = getComplexity({
          schema,
          query: params.documentAST,
          variables: yogaParams?.variables ?? {},
          operationName: yogaParams?.operationName,
          estimators: [connectionAwareEstimator],
        });
      } catch {
        // Malformed variables or unknown operation: graphql-js reports those itself.
        return;
      }
      if (cost > maximum) {
        setResult([
          new GraphQLError(`Query cost ${cost} exceeds the maximum of ${maximum}; request smaller pages or fewer nested lists.`, {
            extensions: { code: 'BAD_USER_INPUT', cost, maximumCost: maximum },
          }),
        ]);
      }
    },
  };
}

/** Validation-time limits: rejected operations never reach resolvers or the database. */
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
