import { builder, access, parseId } from '../../graphql/builder.ts';
import { defineMutation } from '../../graphql/mutation.ts';
import { CatalogEntryRef } from '../catalog/schema.ts';
import * as defaults from './service.ts';

const DefaultModelSourceEnum = builder.enumType('DefaultModelSource', {
  values: {
    CATALOG_ID: { description: 'Resolved from the stored catalog entry id.' },
    LEGACY_MODEL_NAME: { description: 'Resolved from a legacy default stored by model name only.' },
  } as const,
});

const DefaultModelSelectionRef = builder.objectRef<defaults.DefaultModelSelection>('DefaultModelSelection').implement({
  fields: (t) => ({
    catalogEntry: t.field({ type: CatalogEntryRef, resolve: (selection) => selection.entry }),
    catalogId: t.field({ type: 'UUID', resolve: (selection) => selection.entry.id }),
    modelProvider: t.string({ resolve: (selection) => selection.entry.modelProvider }),
    modelName: t.string({ resolve: (selection) => selection.entry.modelName }),
    customProviderId: t.field({
      type: 'UUID',
      nullable: true,
      resolve: (selection) => selection.entry.customProviderId,
    }),
    source: t.field({ type: DefaultModelSourceEnum, resolve: (selection) => selection.source }),
  }),
});

builder.queryField('defaultModelSelection', (t) =>
  t.field({
    type: DefaultModelSelectionRef,
    nullable: true,
    description: "The organization's default model; null when none is set or it is no longer enabled.",
    ...access(['agent:read'], { workspaceTokens: true }),
    resolve: (_root, _args, ctx) => defaults.defaultModelSelection(ctx),
  }),
);

const SetDefaultModelInput = builder.inputType('SetDefaultModelInput', {
  fields: (t) => ({ catalogEntryId: t.id({ required: true }) }),
});
const SetDefaultModelPayload = builder
  .objectRef<{ defaultModelSelection: defaults.DefaultModelSelection }>('SetDefaultModelPayload')
  .implement({
    fields: (t) => ({
      defaultModelSelection: t.field({ type: DefaultModelSelectionRef, resolve: (payload) => payload.defaultModelSelection }),
    }),
  });
defineMutation('setDefaultModel', {
  access: access(['agent:update']),
  audit: { resourceType: 'agent_default_model', action: 'update' },
  repeatable: true,
  input: SetDefaultModelInput,
  payload: SetDefaultModelPayload,
  resolve: async (input, ctx, op) => {
    const catalogId = parseId(input.catalogEntryId, 'CatalogEntry', 'input.catalogEntryId');
    return { defaultModelSelection: await defaults.setDefaultModel(ctx, op, catalogId) };
  },
});
