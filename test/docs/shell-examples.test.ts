import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/harness.ts';

const root = new URL('../../', import.meta.url);
const pages = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const METRICS_TOKEN = 'metrics-token-for-the-examples';

/**
 * The shell examples that call a running service and end by themselves: `curl` against
 * localhost:4000 with nothing left for the reader to fill in (`<…>`, `…`). Streaming
 * examples (`curl -N`) are left to the subscription tests.
 */
function runnableExamples(): { where: string; script: string }[] {
  const found: { where: string; script: string }[] = [];
  for (const page of pages) {
    const lines = readFileSync(new URL(page, root), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() !== '```sh') continue;
      const start = i + 1;
      while (++i < lines.length && lines[i]!.trim() !== '```');
      const script = lines.slice(start, i).join('\n');
      if (/curl\b/.test(script) && script.includes('localhost:4000') && !/[<…]|curl -N/.test(script)) {
        found.push({ where: `${page}:${start + 1}`, script });
      }
    }
  }
  return found;
}

describe('shell examples', () => {
  let test: TestApp;
  let url: URL;
  let token: string;
  beforeAll(async () => {
    test = await startTestApp({ METRICS_TOKEN, INTROSPECTION: 'public' });
    url = new URL(await test.listen());
    token = (await test.organization('Examples')).token;
  });
  afterAll(() => test?.close());

  const examples = runnableExamples();

  it('finds examples to run', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples.map((example) => [example.where, example] as const))('the example at %s runs against the service', async (_where, example) => {
    const script = example.script.replaceAll('localhost:4000', url.host);
    const { stdout } = await promisify(execFile)('bash', ['-eu', '-c', script], {
      env: { ...process.env, TOKEN: token, METRICS_TOKEN },
      timeout: 10_000,
    });
    expect(stdout.trim()).not.toBe('');
    expect(stdout).not.toMatch(/"errors"|UNAUTHENTICATED|HTTP\/1\.1 [45]\d\d/);
  });
});
