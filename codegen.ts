import type { CodegenConfig } from '@graphql-codegen/cli';

const typedDocuments = {
  scalars: { UUID: 'string', DateTime: 'string', JSONObject: 'Record<string, unknown>' },
  enumsAsTypes: true,
  useTypeImports: true,
};

// Two projects, each checked against schema.graphql: the operations the tests send, and
// the frontend's (a model-settings page), whose persisted-documents.json is the
// manifest the service trusts (PERSISTED_DOCUMENTS_FILE, see docs/frontend.md).
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'test/generated/': {
      documents: ['test/**/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: typedDocuments,
    },
    'frontend/generated/': {
      documents: ['frontend/operations/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
      config: typedDocuments,
    },
  },
  ignoreNoDocuments: true,
};

export default config;
