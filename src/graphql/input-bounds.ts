import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isInputObjectType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLInputField,
  type GraphQLInputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { badInput, type AppError } from './errors.ts';

/**
 * What one argument or input field may hold, declared where it is defined (with
 * `bounded`) and enforced for every operation before execution (`checkOperationInput`).
 */
export interface InputBounds {
  /** Most items of a list (every list position must declare it). */
  maxItems?: number;
  /** Longest string, or string item of a list; the global MAX_STRING_LENGTH otherwise. */
  maxLength?: number;
}

const BOUNDS_EXTENSION = 'inputBounds';

/** The sentence the printed schema states for `bounds`. */
export function describeBounds(bounds: InputBounds): string {
  const length = bounds.maxLength === undefined ? undefined : `at most ${bounds.maxLength} characters`;
  if (bounds.maxItems === undefined) return `At most ${bounds.maxLength} characters.`;
  return `At most ${bounds.maxItems} items${length ? ` of ${length}` : ''}.`;
}

/**
 * Options for an argument or input field with these bounds: the walker reads them from
 * the field's extensions, and the description says them, after `description` if given.
 */
export function bounded(bounds: InputBounds, description?: string) {
  return {
    description: description ? `${description} ${describeBounds(bounds)}` : describeBounds(bounds),
    extensions: { [BOUNDS_EXTENSION]: bounds },
  };
}

/** The bounds declared on an argument or input field, if any. */
export function boundsOf(position: GraphQLArgument | GraphQLInputField): InputBounds | undefined {
  return position.extensions?.[BOUNDS_EXTENSION] as InputBounds | undefined;
}

/** Limits that apply where a field declares none. */
export interface InputLimits {
  maxStringLength: number;
  maxJsonDepth: number;
  maxJsonBytes: number;
  maxVariablesBytes: number;
}

/** Raw variables deeper than this are refused before graphql coerces them (recursively). */
const MAX_VARIABLE_DEPTH = 64;

// NUL cannot be stored by PostgreSQL and lone surrogates are not valid UTF-8.
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Visit = (value: unknown, type: GraphQLInputType, bounds: InputBounds | undefined, path: string) => AppError | undefined;

/**
 * Visits `value` (coerced for `type`) and everything inside it, each part with its
 * type, declared bounds and path (`input.entries[3].modelName`); stops at the first
 * refusal `visit` returns. List items inherit their list's string bound.
 */
export function walkInput(
  value: unknown,
  type: GraphQLInputType,
  bounds: InputBounds | undefined,
  path: string,
  visit: Visit,
): AppError | undefined {
  if (value === null || value === undefined) return undefined;
  const refused = visit(value, type, bounds, path);
  if (refused) return refused;
  const nullable = getNullableType(type);
  if (isListType(nullable) && Array.isArray(value)) {
    const itemBounds = bounds?.maxLength === undefined ? undefined : { maxLength: bounds.maxLength };
    for (let index = 0; index < value.length; index++) {
      const inner = walkInput(value[index], nullable.ofType, itemBounds, `${path}[${index}]`, visit);
      if (inner) return inner;
    }
  } else if (isInputObjectType(nullable)) {
    const fields = nullable.getFields();
    for (const [name, inner] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[name];
      const refusal = field && walkInput(inner, field.type, boundsOf(field), `${path}.${name}`, visit);
      if (refusal) return refusal;
    }
  }
  return undefined;
}

/** Depth and storable text of a JSON value; undefined when within `maxDepth`. */
function checkJson(value: unknown, path: string, maxDepth: number, depth = 1): AppError | undefined {
  if (typeof value === 'string') return UNSTORABLE_TEXT.test(value) ? unstorable(path) : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > maxDepth) return badInput(path, `must be nested at most ${maxDepth} levels deep`, { limit: maxDepth });
  for (const [key, inner] of Object.entries(value)) {
    if (UNSTORABLE_TEXT.test(key)) return unstorable(path);
    const refused = checkJson(inner, `${path}.${key}`, maxDepth, depth + 1);
    if (refused) return refused;
  }
  return undefined;
}

const unstorable = (path: string) => badInput(path, 'text must not contain NUL characters or unpaired surrogates');

function checkValue(limits: InputLimits): Visit {
  return (value, type, bounds, path) => {
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      const max = bounds?.maxItems;
      if (max !== undefined && Array.isArray(value) && value.length > max) return badInput(path, `at most ${max} items`, { limit: max });
      return undefined;
    }
    if (typeof value === 'string') {
      const max = bounds?.maxLength ?? limits.maxStringLength;
      if (value.length > max) return badInput(path, `must be at most ${max} characters`, { limit: max });
      return UNSTORABLE_TEXT.test(value) ? unstorable(path) : undefined;
    }
    // A JSON scalar (JSONObject): whatever it holds, bounded as a whole.
    if (!isInputObjectType(nullable) && typeof value === 'object' && !(value instanceof Date)) {
      const refused = checkJson(value, path, limits.maxJsonDepth);
      if (refused) return refused;
      if (Buffer.byteLength(JSON.stringify(value)) > limits.maxJsonBytes) {
        return badInput(path, `must be at most ${limits.maxJsonBytes} bytes as JSON`, { limit: limits.maxJsonBytes });
      }
    }
    return undefined;
  };
}

/** True when `value` nests deeper than `max` (arrays and objects). */
function deeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max === 0) return true;
  for (const inner of Object.values(value)) if (deeperThan(inner, max - 1)) return true;
  return false;
}

/**
 * The first input of an operation that exceeds its bounds: the variables as a whole,
 * then every argument of every selected field (literals and variables alike, after
 * coercion) against the bounds declared on it and the global limits. Undefined when
 * everything is within bounds, and when the operation or its variables are invalid
 * (execution reports those itself).
 */
export function checkOperationInput(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: InputLimits,
): AppError | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  const raw = variables ?? {};
  if (deeperThan(raw, MAX_VARIABLE_DEPTH)) {
    return badInput('$variables', `must be nested at most ${MAX_VARIABLE_DEPTH} levels deep`, { limit: MAX_VARIABLE_DEPTH });
  }
  if (Buffer.byteLength(JSON.stringify(raw)) > limits.maxVariablesBytes) {
    return badInput('$variables', `must be at most ${limits.maxVariablesBytes} bytes as JSON`, { limit: limits.maxVariablesBytes });
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], raw, { maxErrors: 1 });
  if (coerced.errors) return undefined;

  const visit = checkValue(limits);
  const fragments = new Map(
    document.definitions.flatMap((definition) => (definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition]] : [])),
  );
  const seenFragments = new Set<string>();
  const walkSelections = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType): AppError | undefined => {
    for (const selection of selectionSet.selections) {
      let refused: AppError | undefined;
      if (selection.kind === Kind.FIELD) {
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[selection.name.value] : undefined;
        // Meta fields (__typename, __schema, …) and unknown ones, which validation refused.
        if (!field) continue;
        if (field.args.length > 0) {
          let args: Record<string, unknown>;
          try {
            args = getArgumentValues(field, selection, coerced.coerced);
          } catch {
            return undefined;
          }
          for (const arg of field.args) {
            refused ??= walkInput(args[arg.name], arg.type, boundsOf(arg), arg.name, visit);
          }
        }
        const named = getNamedType(field.type);
        if (!refused && selection.selectionSet && isCompositeType(named)) refused = walkSelections(selection.selectionSet, named);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (condition && isCompositeType(condition)) refused = walkSelections(selection.selectionSet, condition);
      } else if (!seenFragments.has(selection.name.value)) {
        seenFragments.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        const condition = fragment && schema.getType(fragment.typeCondition.name.value);
        if (fragment && condition && isCompositeType(condition)) refused = walkSelections(fragment.selectionSet, condition);
      }
      if (refused) return refused;
    }
    return undefined;
  };
  const root = schema.getRootType(operation.operation);
  return root ? walkSelections(operation.selectionSet, root) : undefined;
}
