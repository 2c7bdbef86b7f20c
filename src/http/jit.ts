import { Kind, visit, type DocumentNode, type ValueNode } from 'graphql';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Plugin } from 'graphql-yoga';

const nestedVariablesOf = new WeakMap<DocumentNode, string[]>();

/** Variables written inside an input object or a list of an argument (`input: { apiKey: $key }`), by name. */
function nestedVariables(document: DocumentNode): string[] {
  let names = nestedVariablesOf.get(document);
  if (!names) {
    const found = new Set<string>();
    const collect = (value: ValueNode, nested: boolean): void => {
      if (value.kind === Kind.VARIABLE && nested) found.add(value.name.value);
      else if (value.kind === Kind.OBJECT) for (const field of value.fields) collect(field.value, true);
      else if (value.kind === Kind.LIST) for (const item of value.values) collect(item, true);
    };
    visit(document, { Argument: (argument) => collect(argument.value, false) });
    names = [...found];
    nestedVariablesOf.set(document, names);
  }
  return names;
}

/**
 * graphql-jit where it computes arguments as graphql-js does; graphql-js elsewhere. Two
 * places where it does not:
 * - Its compiled subscribe hands the subscription field the operation's variables in
 *   place of the field's arguments (graphql-jit #183): `changes(after: $cursor)` would
 *   start at the head and `changes(filter: { … })` deliver every event. Without the
 *   plugin's subscribe hook, subscriptions run on graphql-js, which computes arguments
 *   as written — literals, variables of any name, defaults — exactly as for queries.
 * - An operation that leaves out a variable written inside an input object or list:
 *   the JIT puts null where the variable stands, so `input: { id: $id, customHeaders:
 *   $headers }` without `$headers` would clear the headers instead of leaving them as
 *   they are. graphql-js leaves the field out, as the GraphQL specification says; such
 *   operations run on it.
 */
export function useJit(): Plugin {
  const { onExecute } = useGraphQlJit(
    {},
    {
      enableIf: ({ document, variableValues }) => {
        const names = nestedVariables(document);
        return names.length === 0 || names.every((name) => variableValues != null && Object.prototype.hasOwnProperty.call(variableValues, name));
      },
    },
  ) as Plugin;
  return { onExecute };
}
