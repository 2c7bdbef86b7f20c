import type { ObjectRef } from '@pothos/core';
import { builder, type BuilderTypes } from './builder.ts';
import type { Connection } from './pagination.ts';

builder.globalConnectionField('totalCount', (t) =>
  t.int({ resolve: (connection) => (connection as unknown as Connection<unknown>).totalCount() }),
);

/** `<Name>Connection` / `<Name>Edge` for a node type, shared by every field listing it. */
export function connectionOf<Node>(type: ObjectRef<BuilderTypes, Node>, name: string) {
  return builder.connectionObject({ type, name: `${name}Connection` }, { name: `${name}Edge` });
}
