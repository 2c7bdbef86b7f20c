import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc, CONFIGURATION_DOC } from '../../scripts/configuration-docs.ts';
import { settingsSchema } from '../../src/config.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const pages = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The fenced blocks of one language in a Markdown page, with the line each starts on. */
function blocks(page: string, language: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  const lines = read(page).split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```' + language) continue;
    const start = i + 1;
    while (++i < lines.length && lines[i]!.trim() !== '```');
    found.push({ line: start + 1, text: lines.slice(start, i).join('\n') });
  }
  return found;
}

describe('documentation', () => {
  const schema = buildSchema(read('schema.graphql'));
  const examples = pages.flatMap((page) => blocks(page, 'graphql').map((block) => ({ page, ...block })));

  it('has GraphQL examples to check', () => {
    expect(examples.length).toBeGreaterThan(5);
  });

  it.each(examples.map((example) => [`${example.page}:${example.line}`, example] as const))(
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
