import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/harness.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const openPage = () => t.app.fetch('http://test.local/graphql', { headers: { accept: 'text/html' } });

describe('the GraphiQL page and its files', () => {
  it('references only files of the service, under a policy that allows nothing else', async () => {
    const page = await openPage();
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const policy = page.headers.get('content-security-policy')!;
    expect(policy).toMatch(/default-src 'none'/);
    expect(policy).toMatch(/script-src 'self'(;|$)/);
    expect(policy).toMatch(/connect-src 'self'(;|$)/);
    expect(policy).not.toMatch(/unsafe-eval|https?:|\*/);
    const html = await page.text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(references.length).toBe(4);
    for (const reference of references) expect(reference).toMatch(/^\/graphiql\/[0-9a-f]{16}\/[a-z.]+$/);
    // No inline script: the only <script> without src is the options' JSON data block.
    expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toEqual(['<script type="application/json" id="graphiql-options">']);
    // No token is pre-filled unless the development start asks for it.
    expect(html).not.toMatch(/Bearer/);
  });

  it('serves the files with long-lived caching and refuses unknown paths', async () => {
    const html = await (await openPage()).text();
    const base = /href="(\/graphiql\/[0-9a-f]{16}\/)graphiql\.css"/.exec(html)![1]!;
    const expected: Record<string, RegExp> = {
      'graphiql.css': /^text\/css/,
      'graphiql.js': /^text\/javascript/,
      'start.js': /^text\/javascript/,
      'editor.worker.js': /^text\/javascript/,
      'json.worker.js': /^text\/javascript/,
      'graphql.worker.js': /^text\/javascript/,
      'favicon.ico': /^image\//,
    };
    for (const [name, type] of Object.entries(expected)) {
      const response = await t.app.fetch(`http://test.local${base}${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type'), name).toMatch(type);
      expect(response.headers.get('cache-control'), name).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-security-policy'), name).toMatch(/default-src 'none'/);
      expect((await response.arrayBuffer()).byteLength, name).toBeGreaterThan(100);
    }
    // Served from memory: every request gets the whole file.
    const sizes = await Promise.all([1, 2].map(async () => (await (await t.app.fetch(`http://test.local${base}graphiql.js`)).arrayBuffer()).byteLength));
    expect(sizes[0]).toBeGreaterThan(1_000_000);
    expect(sizes[1]).toBe(sizes[0]);
    expect((await t.app.fetch(`http://test.local${base}nothing.js`)).status).toBe(404);
    expect((await t.app.fetch('http://test.local/graphiql/0000000000000000/graphiql.js')).status).toBe(404);
    expect((await t.app.fetch(`http://test.local${base}../../graphql`)).status).not.toBe(200);
  });
});
