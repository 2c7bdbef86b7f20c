import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import DirectivesPlugin from '@pothos/plugin-directives';
import { GraphQLScalarType } from 'graphql';
import { DateTimeResolver, JSONObjectResolver, UUIDResolver } from 'graphql-scalars';
import type PrismaTypes from '../generated/pothos-prisma-types.ts';
import { getDatamodel } from '../generated/pothos-prisma-types.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { hasScope, type Scope } from '../security/auth.ts';
import type { Context } from './context.ts';
import { AppError, badInput, forbidden } from './errors.ts';
import { bounded } from './input-bounds.ts';

/** Most global IDs one `nodes` call looks up. */
export const MAX_NODE_IDS = 100;

/**
 * What a root field demands of the caller: every listed scope, and whether
 * workspace-bound tokens may use it at all (SPEC §1 lets them reach only a few fields).
 */
export interface AccessRule {
  scopes: readonly Scope[];
  workspaceTokens: boolean;
}

/**
 * Marks a field whose answer the response cache must never keep: one that holds
 * secrets or writes, depends on time, or reads rows that make no change events (the
 * cache is valid only while no change event of the organization has committed). The
 * reason is given where it is used; every other field's answer follows from committed
 * rows that make change events.
 */
export const NOT_CACHED = { extensions: { responseCache: false } } as const;

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { access: AccessRule };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: {
    UUID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    ID: { Input: string; Output: string };
  };
  Directives: { auth: { locations: 'FIELD_DEFINITION'; args: { requires: string[] } } };
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, DirectivesPlugin],
  directives: { useGraphQLToolsUnorderedDirectives: true },
  scopeAuth: {
    authScopes: (ctx) => ({
      access: (rule: AccessRule) =>
        (rule.workspaceTokens || !ctx.principal.workspaceId) &&
        rule.scopes.every((scope) => hasScope(ctx.principal, scope)),
    }),
    unauthorizedError: (_parent, ctx, info, result) => accessError(ctx, info.fieldName, result.failure),
    // A subscription is authorized once, when it starts (its token's expiry ends it).
    authorizeOnSubscribe: true,
  },
  prisma: {
    client: (ctx) => ctx.db.client,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
    cursorType: 'String',
    decodeGlobalID: (globalID: string) => decodeGlobalId(globalID, 'id'),
    encodeGlobalID: (typename: string, id: string | number | bigint) => encodeGlobalId(typename, String(id)),
    // Not cached: a node may be an audit event, and audit rows make no change events.
    nodeQueryOptions: { ...access([], { workspaceTokens: false }), ...NOT_CACHED },
    nodesQueryOptions: { ...access([], { workspaceTokens: false }), ...NOT_CACHED, args: { ids: bounded({ maxItems: MAX_NODE_IDS }) } },
  },
});

/** Global IDs: base64url of `Type:uuid`. */
export function encodeGlobalId(typename: string, id: string): string {
  return Buffer.from(`${typename}:${id}`, 'utf8').toString('base64url');
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeGlobalId(globalId: string, argument: string): { typename: string; id: string } {
  const decoded = globalId.length <= 200 ? Buffer.from(globalId, 'base64url').toString('utf8') : '';
  const separator = decoded.indexOf(':');
  const typename = decoded.slice(0, separator);
  const id = decoded.slice(separator + 1);
  if (separator <= 0 || !/^[A-Za-z]+$/.test(typename) || !UUID_PATTERN.test(id)) {
    throw badInput(argument, 'not a valid global ID');
  }
  return { typename, id: id.toLowerCase() };
}

/** Decodes a global ID argument that must name an object of `typename`; returns its UUID. */
export function parseId(globalId: string, typename: string, argument: string): string {
  const decoded = decodeGlobalId(globalId, argument);
  if (decoded.typename !== typename) throw badInput(argument, `expected the ID of a ${typename}`);
  return decoded.id;
}

/**
 * The one declaration of a root field's access: Pothos scope-auth enforces it and the
 * `@auth` directive prints it into the schema.
 */
export function access(scopes: readonly Scope[], options: { workspaceTokens?: boolean } = {}) {
  const rule: AccessRule = { scopes, workspaceTokens: options.workspaceTokens ?? false };
  return {
    authScopes: { access: rule },
    ...(scopes.length > 0 ? { directives: { auth: { requires: [...scopes] } } } : {}),
  } as const;
}

function findRule(failure: AuthFailure): AccessRule | undefined {
  if (failure.kind === AuthScopeFailureType.AuthScope && failure.scope === 'access') {
    return failure.parameter as AccessRule;
  }
  if (failure.kind === AuthScopeFailureType.AllAuthScopes || failure.kind === AuthScopeFailureType.AnyAuthScopes) {
    for (const child of failure.failures) {
      const rule = findRule(child);
      if (rule) return rule;
    }
  }
  return undefined;
}

function accessError(ctx: Context, fieldName: string, failure: AuthFailure): AppError {
  const rule = findRule(failure);
  if (!rule) return forbidden(`not allowed to use ${fieldName}`);
  if (!rule.workspaceTokens && ctx.principal.workspaceId) {
    return forbidden(`a workspace-bound token cannot use ${fieldName}`);
  }
  const missing = rule.scopes.filter((scope) => !hasScope(ctx.principal, scope));
  return forbidden(`${fieldName} requires the scopes: ${missing.join(', ')}`, {
    requiredScopes: [...rule.scopes],
    missingScopes: missing,
  });
}

builder.addScalarType('UUID', UUIDResolver);
// Answers carry a date as its ISO text rather than a Date: the text is the same, and a
// Date's toJSON takes JSON.stringify off its fast path (a catalog page of 35 entries
// took 2.4 times as long to stringify, BENCHMARKS.md step 15).
builder.addScalarType(
  'DateTime',
  new GraphQLScalarType({ ...DateTimeResolver.toConfig(), serialize: (value) => (DateTimeResolver.serialize(value) as Date).toISOString() }),
);
builder.addScalarType('JSONObject', JSONObjectResolver);

builder.queryType({});
builder.mutationType({});

export type { PrismaClient };

/** The builder's type parameters, for helpers that take refs. */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
