import { GraphQLDirective, GraphQLList, GraphQLNonNull, GraphQLString, DirectiveLocation, specifiedDirectives } from 'graphql';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { builder } from './graphql/builder.ts';
import './modules/tenancy/schema.ts';
import './modules/providers/schema.ts';
import './modules/catalog/schema.ts';
import './modules/catalog/list.ts';
import './modules/catalog/cloud.ts';
import './modules/audit/schema.ts';
import './modules/catalog/platform-schema.ts';
import './modules/access/schema.ts';
import './modules/defaults/schema.ts';
import './modules/runtime/schema.ts';
import './modules/access/alias-schema.ts';
import './modules/changes/schema.ts';
import './modules/webhooks/schema.ts';

const authDirective = new GraphQLDirective({
  name: 'auth',
  description: 'The scopes a field requires (all of them).',
  locations: [DirectiveLocation.FIELD_DEFINITION],
  args: { requires: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))) } },
});

// The list replaces graphql's own directives unless they are named too (@include, @skip, …).
export const schema = builder.toSchema({ directives: [...specifiedDirectives, authDirective], sortSchema: false });

export function printSchema(): string {
  return `${printSchemaWithDirectives(schema).trim()}\n`;
}
