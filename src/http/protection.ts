import {
  GraphQLError,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isListType,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.ts';
import { DEFAULT_PAGE_SIZE } from '../graphql/pagination.ts';
import { checkOperationInput, walkInput } from '../graphql/input-bounds.ts';
import { expandedCost, expandedSizes, selectionComparisons, type ExpandedSize, type FieldCostEstimator } from './expanded-operation.ts';

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
const listAwareEstimator: FieldCostEstimator = ({ field, args, childCost }) => {
  const items = listItems(field, args);
  const own = Math.max(1, items);
  const child = Math.max(1, childCost);
  if (getNamedType(field.type).name.endsWith('Connection')) {
    const size = Number(args.first ?? args.last ?? DEFAULT_PAGE_SIZE) || DEFAULT_PAGE_SIZE;
    return own + Math.max(1, size) * child;
  }
  if (isListType(getNullableType(field.type)) && items > 0) return own + items * child;
  return own + childCost;
};

/** A refusal of the query limits: the operation never runs. */
function refusal(message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...extensions } });
}

/**
 * Pairs of selections graphql-js's OverlappingFieldsCanBeMerged rule may compare in one
 * document (see selectionComparisons): the service's own documents need at most a few;
 * 2000 keep the rule under about 15 ms.
 */
const MAX_SELECTION_COMPARISONS = 2000;

/**
 * Longest name of a field, alias, argument, fragment, variable, type, directive or enum
 * value. An unknown name makes graphql-js compute how far it is from each name of the
 * schema to suggest one, which for a name of a megabyte takes most of a second.
 */
const MAX_NAME_LENGTH = 256;

function longestName(document: DocumentNode): number {
  let longest = 0;
  visit(document, {
    Name: (node) => void (longest = Math.max(longest, node.value.length)),
    EnumValue: (node) => void (longest = Math.max(longest, node.value.length)),
  });
  return longest;
}

/** Validation errors reported for one document (graphql-js's default is 100). */
const MAX_VALIDATION_ERRORS = 10;

/**
 * Depth, aliases, directives and the number of fields of every operation, fragments
 * expanded (see expanded-operation.ts), and the length of names and the comparisons
 * of selections in the document, refused during validation before graphql-js's own
 * rules run, so no rule ever sees a document past these bounds; the rules then stop
 * at MAX_VALIDATION_ERRORS. Nothing here depends on variables, so yoga's validation
 * cache keeps the verdict per document.
 */
function useExpandedSizeLimits(config: Config): Plugin {
  const limits: { measure: keyof ExpandedSize; limit: number; describe: (limit: number, found: number) => string }[] = [
    { measure: 'depth', limit: config.MAX_QUERY_DEPTH, describe: (limit, found) => `Query depth limit of ${limit} exceeded, found ${found}.` },
    { measure: 'aliases', limit: config.MAX_QUERY_ALIASES, describe: (limit, found) => `Aliases limit of ${limit} exceeded, found ${found}.` },
    { measure: 'directives', limit: config.MAX_QUERY_DIRECTIVES, describe: (limit, found) => `Directives limit of ${limit} exceeded, found ${found}.` },
    {
      measure: 'fields',
      limit: config.MAX_EXPANDED_FIELDS,
      describe: (limit, found) => `The operation selects ${found} fields once its fragments are expanded; at most ${limit} are allowed.`,
    },
  ];
  const refusalsOf = (document: DocumentNode): GraphQLError[] => {
    const nameLength = longestName(document);
    if (nameLength > MAX_NAME_LENGTH) {
      return [refusal(`Names are at most ${MAX_NAME_LENGTH} characters long; the document holds one of ${nameLength}.`, { limit: MAX_NAME_LENGTH, nameLength })];
    }
    let sizes;
    try {
      sizes = expandedSizes(document);
    } catch (error) {
      return [refusal(`The size of the operation cannot be computed: ${(error as Error).message}`, {})];
    }
    const refusals: GraphQLError[] = [];
    for (const size of sizes.values()) {
      for (const { measure, limit, describe } of limits) {
        if (size[measure] > limit) refusals.push(refusal(describe(limit, size[measure]), { limit, [measure]: size[measure] }));
      }
    }
    const comparisons = selectionComparisons(document);
    if (comparisons > MAX_SELECTION_COMPARISONS) {
      refusals.push(
        refusal(
          `The document selects fields of one name, or spreads fragments, side by side so often that checking they merge takes ${comparisons} comparisons; at most ${MAX_SELECTION_COMPARISONS} are allowed. Select each field once per selection set.`,
          { limit: MAX_SELECTION_COMPARISONS, comparisons },
        ),
      );
    }
    return refusals;
  };
  // Measured once per parsed document (yoga keeps parsed documents in its cache).
  const refusalsByDocument = new WeakMap<DocumentNode, GraphQLError[]>();
  return {
    onValidate({ params: { documentAST }, setResult, validateFn, setValidationFn }) {
      let refusals = refusalsByDocument.get(documentAST);
      if (!refusals) refusalsByDocument.set(documentAST, (refusals = refusalsOf(documentAST)));
      // An empty result would count as valid and skip validation altogether.
      if (refusals.length > 0) return setResult(refusals);
      // Every error costs a scan of the document up to where it points (graphql-js finds
      // line and column that way, again wherever the error is copied): a few errors say
      // what is wrong as well as a hundred, and keep a document of 2 MiB cheap to refuse.
      setValidationFn((schema, document, rules, options, typeInfo) =>
        validateFn(schema, document, rules, { ...options, maxErrors: MAX_VALIDATION_ERRORS }, typeInfo),
      );
    },
  };
}

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
  /** The operation's cost, or why it cannot run. */
  const costOf = (document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined): number | ExecutionResult => {
    let costs = costsByDocument.get(document);
    if (!costs) costsByDocument.set(document, (costs = new LRUCache({ max: 64 })));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(costShape(variables))}`;
    const known = costs.get(key);
    if (known !== undefined) return known;
    const operation = getOperationAST(document, operationName);
    // No such operation: execution says so, and runs nothing.
    if (!operation) return 0;
    // Variables that do not coerce: execution refuses them itself (BAD_USER_INPUT, in
    // graphql-js's words) before it resolves anything, inside its traced span.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables, { maxErrors: 50 });
    if (coerced.errors) return 0;
    let cost: number;
    try {
      cost = expandedCost(schema, document, operation, coerced.coerced, listAwareEstimator);
    } catch (error) {
      return { errors: [refusal(`The cost of the operation cannot be computed: ${(error as Error).message}`, { maximumCost: maximum, limit: maximum })] };
    }
    if (key.length <= MAX_COST_CACHE_KEY_LENGTH) costs.set(key, cost);
    return cost;
  };
  // Checked before execution, not during validation: yoga caches validation per
  // document, and the same document costs more with larger page-size variables. Linear
  // in the document (expandedCost), so checking every request is cheap.
  const check = ({ args, setResultAndStopExecution }: BeforeExecution) => {
    const cost = costOf(args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName ?? undefined);
    if (typeof cost !== 'number') return setResultAndStopExecution(cost);
    if (cost > maximum) {
      setResultAndStopExecution({
        errors: [
          refusal(`Query cost ${cost} exceeds the maximum of ${maximum}; request smaller pages or fewer nested lists.`, {
            cost,
            maximumCost: maximum,
            limit: maximum,
          }),
        ],
      });
    }
  };
  return { onExecute: check, onSubscribe: check };
}

/** Longest document text yoga's caches keep (3000 tokens of names of 256 characters hold less). */
const MAX_CACHED_DOCUMENT_LENGTH = 64 * 1024;

/**
 * yoga's caches of parsed documents and of parse errors, bounded by the text they keep:
 * its own keep 1024 documents whatever their size, and a hundred distinct documents of
 * 2 MiB (a comment makes any query that long) exhausted the heap. Longer documents are
 * parsed again at each request (about 10 ms for 2 MiB).
 */
export function documentCaches() {
  const options = {
    max: 1024,
    maxSize: 16 * 1024 * 1024,
    maxEntrySize: MAX_CACHED_DOCUMENT_LENGTH,
    sizeCalculation: (_value: unknown, key: string) => key.length,
  };
  return { documentCache: new LRUCache<string, DocumentNode>(options), errorCache: new LRUCache<string, object>(options) };
}

/** Limits checked before execution: rejected operations never reach resolvers or the database. */
export function queryProtections(config: Config, schema: GraphQLSchema): Plugin[] {
  const plugins: Plugin[] = [
    // Tokens are counted while parsing, which stops at the limit.
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS, exposeLimits: true, propagateOnRejection: true }) as Plugin,
    useExpandedSizeLimits(config),
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
