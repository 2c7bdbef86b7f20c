import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

// What an operation amounts to as executed, its fragments expanded, measured without
// expanding them: each fragment is measured once per pass and its figures reused at
// every spread, so a pass takes time linear in the document however often fragments
// spread each other. graphql-query-complexity walks a fragment again at every spread
// (a document of a few hundred bytes that spreads fragments twice per level stands for
// 2^levels fields) and gives up past a node count instead of answering; the size
// limits share this pass rather than walking the document once per limit.

/** A document whose figures cannot be computed (a fragment that spreads itself). */
class Unmeasurable extends Error {}

/** How large an operation is once its fragments are expanded. */
export interface ExpandedSize {
  /** Fields selected, a fragment counting all of its fields at each of its spreads. */
  fields: number;
  aliases: number;
  /** Directives on fields, fragments and the operation. */
  directives: number;
  /** Nesting of fields; fragments add no level, and introspection (`__schema`) counts none. */
  depth: number;
}

const MEASURING = Symbol('measuring');

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/**
 * `measureFragment` once per fragment, remembered for every later spread; a fragment
 * reached again while it is being measured is a cycle.
 */
function memoized<T>(fragments: Map<string, FragmentDefinitionNode>, measureFragment: (fragment: FragmentDefinitionNode) => T, none: T) {
  const measured = new Map<string, T | typeof MEASURING>();
  return (name: string): T => {
    const known = measured.get(name);
    if (known === MEASURING) throw new Unmeasurable(`Fragment "${name}" spreads itself.`);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // An unknown fragment, which validation reports.
    if (!fragment) return none;
    measured.set(name, MEASURING);
    const figures = measureFragment(fragment);
    measured.set(name, figures);
    return figures;
  };
}

const NOTHING: ExpandedSize = { fields: 0, aliases: 0, directives: 0, depth: 0 };

/** The expanded size of every operation of `document`, in one pass over it. */
export function expandedSizes(document: DocumentNode): Map<OperationDefinitionNode, ExpandedSize> {
  const selectionsSize = (selectionSet: SelectionSetNode): ExpandedSize => {
    const size = { ...NOTHING };
    const add = (inner: ExpandedSize, depth: number) => {
      size.fields += inner.fields;
      size.aliases += inner.aliases;
      size.directives += inner.directives;
      size.depth = Math.max(size.depth, depth);
    };
    for (const selection of selectionSet.selections) {
      size.directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        const inner = selection.selectionSet ? selectionsSize(selection.selectionSet) : NOTHING;
        size.fields += 1;
        if (selection.alias) size.aliases += 1;
        add(inner, selection.name.value === SchemaMetaFieldDef.name ? 0 : 1 + inner.depth);
      } else {
        const inner = selection.kind === Kind.INLINE_FRAGMENT ? selectionsSize(selection.selectionSet) : fragmentSize(selection.name.value);
        add(inner, inner.depth);
      }
    }
    return size;
  };
  const fragmentSize = memoized(
    fragmentsOf(document),
    (fragment) => {
      const size = selectionsSize(fragment.selectionSet);
      return { ...size, directives: size.directives + (fragment.directives?.length ?? 0) };
    },
    NOTHING,
  );
  const sizes = new Map<OperationDefinitionNode, ExpandedSize>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const size = selectionsSize(definition.selectionSet);
    sizes.set(definition, { ...size, directives: size.directives + (definition.directives?.length ?? 0) });
  }
  return sizes;
}

/**
 * How many pairs of selections graphql-js's OverlappingFieldsCanBeMerged rule compares,
 * at least: in every selection set of the document, with the inline fragments it holds,
 * each pair of fields of one response name, and each pair of the fragment spreads and
 * the fields (the rule then compares what those pairs select, and so on down). The rule
 * gives up only after half a million steps, which a document of a few kilobytes that
 * repeats one field or spreads many fragments side by side reaches after 150 to 500 ms
 * of blocking work; counting first refuses such a document after one pass over it
 * (inline fragments are collected with each selection set that holds them, as the
 * rule collects them).
 */
export function selectionComparisons(document: DocumentNode): number {
  let comparisons = 0;
  /** Fields by response name and the named spreads of a selection set and its inline fragments. */
  const collect = (selectionSet: SelectionSetNode, fields: Map<string, number>, spreads: { count: number }) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.alias?.value ?? selection.name.value;
        const seen = fields.get(name) ?? 0;
        comparisons += seen;
        fields.set(name, seen + 1);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet, fields, spreads);
      } else {
        spreads.count += 1;
      }
    }
  };
  const visit = (selectionSet: SelectionSetNode) => {
    const fields = new Map<string, number>();
    const spreads = { count: 0 };
    collect(selectionSet, fields, spreads);
    comparisons += (spreads.count * (spreads.count - 1)) / 2 + (fields.size > 0 ? spreads.count : 0);
    for (const selection of selectionSet.selections) {
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) visit(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition.selectionSet);
  }
  return comparisons;
}

/** What one field costs, given its arguments and what its selection costs. */
export type FieldCostEstimator = (input: { field: GraphQLField<unknown, unknown>; args: Record<string, unknown>; childCost: number }) => number;

const possibleTypeNames = new WeakMap<GraphQLCompositeType, readonly string[]>();

/** The object types a selection on `type` may meet. */
function possibleTypesOf(schema: GraphQLSchema, type: GraphQLCompositeType): readonly string[] {
  let names = possibleTypeNames.get(type);
  if (!names) {
    names = isAbstractType(type) ? schema.getPossibleTypes(type).map((possible) => possible.name) : [type.name];
    possibleTypeNames.set(type, names);
  }
  return names;
}

/**
 * The cost of `operation` with these (coerced) variables, as graphql-query-complexity
 * computes it — fields skipped by `@skip`/`@include` cost nothing, and a selection on
 * an abstract type costs what it costs for its most expensive possible type — in one
 * pass over the document: a fragment's cost is computed once and reused at each spread.
 * Throws what `getArgumentValues` throws for arguments that cannot be computed, and
 * Unmeasurable for a fragment that spreads itself.
 */
export function expandedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  estimate: FieldCostEstimator,
): number {
  const included = (selection: SelectionNode) =>
    getDirectiveValues(GraphQLSkipDirective, selection, variables)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, selection, variables)?.if !== false;

  const selectionsCost = (selectionSet: SelectionSetNode, type: GraphQLCompositeType): number => {
    const fields = isObjectType(type) || isInterfaceType(type) ? type.getFields() : {};
    // The cost of the selection for each object type it may meet.
    const costs = new Map<string, number>();
    const add = (cost: number, types: readonly string[]) => {
      for (const name of types) costs.set(name, (costs.get(name) ?? 0) + cost);
    };
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const field =
          name === SchemaMetaFieldDef.name
            ? SchemaMetaFieldDef
            : name === TypeMetaFieldDef.name
              ? TypeMetaFieldDef
              : name === TypeNameMetaFieldDef.name
                ? TypeNameMetaFieldDef
                : fields[name];
        // An unknown field, which validation refused.
        if (!field) continue;
        const fieldType = getNamedType(field.type);
        const childCost = isCompositeType(fieldType) && selection.selectionSet ? selectionsCost(selection.selectionSet, fieldType) : 0;
        const args = getArgumentValues(field as GraphQLField<unknown, unknown>, selection, variables);
        add(estimate({ field: field as GraphQLField<unknown, unknown>, args, childCost }), possibleTypesOf(schema, type));
        continue;
      }
      const condition = selection.kind === Kind.INLINE_FRAGMENT ? selection.typeCondition : fragments.get(selection.name.value)?.typeCondition;
      const conditionType = condition ? schema.getType(condition.name.value) : selection.kind === Kind.INLINE_FRAGMENT ? type : undefined;
      if (!isCompositeType(conditionType)) continue;
      const cost = selection.kind === Kind.INLINE_FRAGMENT ? selectionsCost(selection.selectionSet, conditionType) : fragmentCost(selection.name.value);
      add(cost, possibleTypesOf(schema, conditionType));
    }
    let most = 0;
    for (const cost of costs.values()) most = Math.max(most, cost);
    return most;
  };

  const fragments = fragmentsOf(document);
  const fragmentCost = memoized(
    fragments,
    (fragment) => {
      const type = schema.getType(fragment.typeCondition.name.value);
      return isCompositeType(type) ? selectionsCost(fragment.selectionSet, type) : 0;
    },
    0,
  );
  const root = schema.getRootType(operation.operation);
  return root ? selectionsCost(operation.selectionSet, root) : 0;
}
