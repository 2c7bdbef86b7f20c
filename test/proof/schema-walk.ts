// Builds operations from the schema itself, so that the proof suites cover every root
// field, argument and input field, including ones added later.
import crypto from 'node:crypto';
import {
  buildSchema,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLList,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { printSchema } from '../../src/schema.ts';
import { encodeGlobalId } from '../../src/graphql/builder.ts';
import { encodeCursor } from '../../src/modules/changes/position.ts';

/** The served schema, rebuilt from its printed SDL so directives are readable. */
export const servedSchema: GraphQLSchema = buildSchema(printSchema());

export type RootKind = 'query' | 'mutation';

export interface RootField {
  kind: RootKind;
  field: GraphQLField<unknown, unknown>;
  /** Scopes of its @auth directive ([] when it has none). */
  requires: string[];
}

export function rootFields(): RootField[] {
  const result: RootField[] = [];
  for (const [kind, type] of [
    ['query', servedSchema.getQueryType()],
    ['mutation', servedSchema.getMutationType()],
  ] as const) {
    for (const field of Object.values(type!.getFields())) {
      const auth = field.astNode?.directives?.find((d) => d.name.value === 'auth');
      const list = auth?.arguments?.[0]?.value;
      const requires = list && list.kind === 'ListValue' ? list.values.map((v) => (v as { value: string }).value) : [];
      result.push({ kind, field, requires });
    }
  }
  return result;
}

/** A place where an operation takes an ID: an argument or a field of its input. */
export interface IdSlot {
  /** Path of argument names, e.g. ['input', 'catalogEntryId']. */
  path: string[];
  list: boolean;
}

export function idSlots(field: GraphQLField<unknown, unknown>): IdSlot[] {
  const slots: IdSlot[] = [];
  const visit = (name: string, type: GraphQLInputType, path: string[], depth: number) => {
    const named = getNamedType(type);
    if (named.name === 'ID') slots.push({ path: [...path, name], list: isListType(getNullableType(type)) });
    else if (isInputObjectType(named) && depth < 2) {
      for (const inner of Object.values(named.getFields())) visit(inner.name, inner.type, [...path, name], depth + 1);
    }
  };
  for (const arg of field.args) visit(arg.name, arg.type, [], 0);
  return slots;
}

// `id` arguments named after the object they act on; others follow `<type>Id`, but for
// those named after their role.
const ID_TYPE_BY_FIELD: Record<string, string> = { disableModel: 'ModelAccess', rotateWebhookSecret: 'WebhookEndpoint', replayWebhookEvents: 'WebhookEndpoint' };
const ID_TYPE_BY_ROLE: Record<string, string> = { targetIds: 'CatalogEntry' };

/** The object type an ID argument of root field `field` names ('*' for node lookups), or null when it cannot be told. */
export function slotType(field: string, path: string[]): string | null {
  const name = path.at(-1)!;
  if (field === 'node' || field === 'nodes') return '*';
  if (name === 'id') {
    if (ID_TYPE_BY_FIELD[field]) return ID_TYPE_BY_FIELD[field]!;
    const type = field.replace(/^[a-z]+/, '');
    return servedSchema.getType(type) ? type : null;
  }
  if (ID_TYPE_BY_ROLE[name]) return ID_TYPE_BY_ROLE[name]!;
  const match = /^(.*)Ids?$/.exec(name);
  if (!match) return null;
  const type = match[1]!.charAt(0).toUpperCase() + match[1]!.slice(1);
  return servedSchema.getType(type) ? type : null;
}

/** A well-formed global ID of `type` (of a Workspace for node lookups) that names no object. */
export function absentId(type: string | null, index: number): string {
  return encodeGlobalId(type && type !== '*' ? type : 'Workspace', `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`);
}

/** A place where an operation takes a list, and the bound its printed description states. */
export interface ListSlot {
  /** Path of argument and field names, e.g. ['input', 'customHeaders']. */
  path: string[];
  type: GraphQLInputType;
  /** From "At most N items." in the description; undefined when none is printed. */
  maxItems: number | undefined;
}

const PRINTED_BOUND = /At most (\d+) items/;

export function listSlots(field: GraphQLField<unknown, unknown>): ListSlot[] {
  const slots: ListSlot[] = [];
  const visit = (position: { name: string; type: GraphQLInputType; description?: string | null }, path: string[], depth: number) => {
    const at = [...path, position.name];
    if (isListType(getNullableType(position.type))) {
      const printed = PRINTED_BOUND.exec(position.description ?? '');
      slots.push({ path: at, type: position.type, maxItems: printed ? Number(printed[1]) : undefined });
    }
    const named = getNamedType(position.type);
    if (isInputObjectType(named) && depth < 3) for (const inner of Object.values(named.getFields())) visit(inner, at, depth + 1);
  };
  for (const arg of field.args) visit(arg, [], 0);
  return slots;
}

/** `count` distinct well-formed items for the list `type` (strings and ids differ by index). */
export function listValue(type: GraphQLInputType, count: number, idFor: (path: string[], index: number) => string | null, path: string[]): unknown[] {
  const item = (getNullableType(type) as GraphQLList<GraphQLInputType>).ofType;
  return Array.from({ length: count }, (_, index) => validValue(item, (p) => idFor(p, index), path));
}

/** A selection of every scalar (and, one level down, object) field of `type`. */
export function selectionFor(type: GraphQLOutputType, depth = 0, alias = ''): string {
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return '';
  if (isUnionType(named) || isInterfaceType(named)) {
    const members = isUnionType(named) ? named.getTypes() : servedSchema.getPossibleTypes(named);
    // Members may share field names with different types: alias each member's fields.
    return `{ __typename ${members.map((m) => `... on ${m.name} ${selectionFor(m, depth + 1, `${m.name}_`) || '{ __typename }'}`).join(' ')} }`;
  }
  if (!isObjectType(named)) return '';
  const parts: string[] = ['__typename'];
  for (const field of Object.values(named.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type))) continue;
    const inner = getNamedType(field.type);
    const name = alias ? `${alias}${field.name}: ${field.name}` : field.name;
    if (isScalarType(inner) || isEnumType(inner)) parts.push(name);
    else if (depth < 2) {
      const sub = selectionFor(field.type, depth + 1, alias);
      if (sub) parts.push(`${name} ${sub}`);
    }
  }
  return `{ ${parts.join(' ')} }`;
}

let uniqueSuffix = 0;

/** A well-formed value for an input type (IDs are supplied by `idFor`). */
export function validValue(type: GraphQLInputType, idFor: (path: string[]) => string | null, path: string[]): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = validValue(nullable.ofType, idFor, path);
    return item === undefined ? [] : [item];
  }
  const named = getNamedType(type);
  if (named.name === 'ID') return idFor(path);
  if (isEnumType(named)) return named.getValues()[0]!.value;
  if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields());
    const value: Record<string, unknown> = {};
    if (named.isOneOf) {
      const first = fields[0]!;
      value[first.name] = validValue(first.type, idFor, [...path, first.name]);
      return value;
    }
    for (const field of fields) {
      if (isNonNullType(field.type) || getNamedType(field.type).name === 'ID') {
        const v = validValue(field.type, idFor, [...path, field.name]);
        if (v !== undefined && v !== null) value[field.name] = v;
      }
    }
    return value;
  }
  switch (named.name) {
    case 'String':
      // A webhook URL (never connected to: no dispatcher runs), and a feed cursor of now.
      if (path.at(-1) === 'url') return 'http://127.0.0.1:9/proof-hook';
      if (path.join('.') === 'input.after') return encodeCursor({ xid: 1n, id: 0n, time: Date.now() });
      // Also a valid capability name, header name and model name; unique within the run.
      return `proof_${crypto.randomBytes(3).toString('hex')}_${(uniqueSuffix++).toString(36)}`;
    case 'Int':
      return 5;
    case 'Float':
      return 1.5;
    case 'Boolean':
      return false;
    case 'UUID':
      return crypto.randomUUID();
    case 'DateTime':
      return new Date().toISOString();
    case 'JSONObject':
      return {};
    default:
      return undefined;
  }
}

export function typeString(type: GraphQLInputType): string {
  return String(type);
}

/**
 * An operation calling `root.field` with every argument passed as a variable, and the
 * variables: required arguments and ID slots get valid values unless `override` says
 * otherwise (override receives the argument path and returns a value, or undefined
 * to keep the valid one). The selection is every scalar and, one level down, object
 * field unless given.
 */
export function buildOperation(
  root: RootField,
  idFor: (path: string[]) => string | null,
  override: (path: string[], type: GraphQLInputType) => unknown = () => undefined,
  selection = selectionFor(root.field.type),
): { query: string; variables: Record<string, unknown> } {
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  const args: string[] = [];
  // Overrides reach input fields at any depth; an input object absent from the valid
  // value is made for an override inside it.
  const withOverrides = (value: unknown, type: GraphQLInputType, path: string[]): unknown => {
    const replaced = override(path, type);
    if (replaced !== undefined) return replaced;
    const named = getNamedType(type);
    if (!isInputObjectType(named) || isListType(getNullableType(type)) || path.length > 4) return value;
    const given = value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
    const result: Record<string, unknown> = { ...given };
    let changed = false;
    for (const field of Object.values(named.getFields())) {
      const inner = withOverrides(result[field.name], field.type, [...path, field.name]);
      if (inner === result[field.name]) continue;
      changed = true;
      if (inner === OMIT) delete result[field.name];
      else result[field.name] = inner;
    }
    return given || changed ? result : value;
  };
  root.field.args.forEach((arg: GraphQLArgument, index) => {
    const base = isNonNullType(arg.type) || idSlots({ ...root.field, args: [arg] } as never).length > 0
      ? validValue(arg.type, idFor, [arg.name])
      : undefined;
    const value = withOverrides(base, arg.type, [arg.name]);
    if (value === undefined || value === OMIT) return;
    const name = `v${index}`;
    definitions.push(`$${name}: ${typeString(arg.type)}`);
    args.push(`${arg.name}: $${name}`);
    variables[name] = value;
  });
  const header = definitions.length ? `(${definitions.join(', ')})` : '';
  const call = args.length ? `(${args.join(', ')})` : '';
  const query = `${root.kind}${header} { ${root.field.name}${call} ${selection} }`;
  return { query, variables };
}

/** Marks an input field to leave out. */
export const OMIT = Symbol('omit');
