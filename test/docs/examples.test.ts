import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc, CONFIGURATION_DOC } from '../../scripts/configuration-docs.ts';
import { settingsSchema } from '../../src/config.ts';
import { fencedBlocks, pages, readPage as read } from './pages.ts';

describe('documentation', () => {
  const schema = buildSchema(read('schema.graphql'));
  const examples = pages.flatMap((page) => fencedBlocks(page, 'graphql'));

  it('has GraphQL examples to check', () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  it.each(examples.map((example) => [example.where, example] as const))(
    'the GraphQL example at %s is valid against schema.graphql',
    (_where, example) => {
      const errors = validate(schema, parse(example.text)).map((error) => error.message);
      expect(errors).toEqual([]);
    },
  );

  it('docs/configuration.md is what src/config.ts generates', () => {
    expect(read('docs/configuration.md')).toBe(renderConfigurationDoc());
    expect(CONFIGURATION_DOC.endsWith('docs/configuration.md')).toBe(true);
  });

  it('docs/configuration.md names every setting the service reads', () => {
    const reference = read('docs/configuration.md');
    for (const name of Object.keys(settingsSchema.shape)) expect(reference).toContain(`| \`${name}\` |`);
  });

  it('README.md stays short and shows the two commands', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });
});
