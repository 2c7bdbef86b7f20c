import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/harness.ts';
import { fencedBlocks, pages } from './pages.ts';

const METRICS_TOKEN = 'metrics-token-for-the-examples';

/**
 * The shell examples that call a running service and end by themselves: `curl` against
 * localhost:4000 with nothing left for the reader to fill in (`<…>`, `…`). Streaming
 * examples (`curl -N`) are left to the subscription tests.
 */
function runnableExamples(): { where: string; script: string }[] {
  return pages
    .flatMap((page) => fencedBlocks(page, 'sh'))
    .filter(({ text }) => /curl\b/.test(text) && text.includes('localhost:4000') && !/[<…]|curl -N/.test(text))
    .map(({ where, text }) => ({ where, script: text }));
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
