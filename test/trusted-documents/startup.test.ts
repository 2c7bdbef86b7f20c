import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServiceProcess } from '../support/service-process.ts';
import { createTestDatabase } from '../support/database.ts';
import { sha256Hex } from '../../src/http/trusted-documents.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-manifests-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const VIEWER = 'query Viewer { viewer { subject } }';

function manifestFile(name: string, content: string): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, content);
  return file;
}

/** Starts the build as `npm start` does; resolves to the error it stopped with. */
async function startupFailure(env: Record<string, string>): Promise<string> {
  const started = await startServiceProcess({ NODE_ENV: 'development', DATABASE_URL: '', ...env }, { timeoutMs: 30_000 }).then(
    async (service) => {
      await service.stop();
      return undefined;
    },
    (error: Error) => error.message,
  );
  if (started === undefined) throw new Error('the service started');
  return started;
}

describe('a bad manifest stops startup, naming what is wrong', () => {
  const wrongKey = `sha256:${sha256Hex(`${VIEWER} `)}`;
  const cases: [string, string, RegExp][] = [
    [
      'an entry whose key is not the sha256 of its document',
      JSON.stringify({ [sha256Hex(VIEWER)]: VIEWER, [wrongKey]: VIEWER }),
      new RegExp(`entry "${wrongKey}": the key is not the sha256 of its document \\(that is ${sha256Hex(VIEWER)}\\)`),
    ],
    ['a key that is no sha256 id', JSON.stringify({ 'viewer-query': VIEWER }), /entry "viewer-query": the key is not a sha256 id/],
    ['a document that is not text', JSON.stringify({ [sha256Hex(VIEWER)]: { query: VIEWER } }), /the document is not a string/],
    [
      'a document the schema does not have',
      JSON.stringify({ [sha256Hex('{ nothing }')]: '{ nothing }' }),
      /the document is not valid against the schema: Cannot query field "nothing" on type "Query"/,
    ],
    ['a file that is not JSON', '{ "a": ', /cannot be read as JSON/],
    ['JSON that is not an object of documents', JSON.stringify([VIEWER]), /expected a JSON object/],
  ];
  it.each(cases)('%s', async (name, content, expected) => {
    const file = manifestFile(`${name.replaceAll(' ', '-')}.json`, content);
    const message = await startupFailure({ PERSISTED_DOCUMENTS_FILE: file });
    expect(message).toContain('exit code 1');
    expect(message).toContain(`Startup failed: PERSISTED_DOCUMENTS_FILE ${file}:`);
    expect(message).toMatch(expected);
  });

  it('as does a missing file, or require or allow without a manifest', async () => {
    const missing = path.join(directory, 'absent.json');
    expect(await startupFailure({ PERSISTED_DOCUMENTS: 'require', PERSISTED_DOCUMENTS_FILE: missing })).toMatch(
      new RegExp(`PERSISTED_DOCUMENTS_FILE ${missing}: cannot be read as JSON \\(ENOENT`),
    );
    for (const mode of ['require', 'allow']) {
      const message = await startupFailure({ PERSISTED_DOCUMENTS: mode });
      expect(message).toContain('exit code 1');
      expect(message).toContain(`Invalid configuration: PERSISTED_DOCUMENTS: ${mode} needs a manifest: set PERSISTED_DOCUMENTS_FILE`);
    }
    expect(await startupFailure({ PERSISTED_DOCUMENTS: 'strict' })).toMatch(/Invalid configuration: PERSISTED_DOCUMENTS: /);
  });
});

describe('the service started with a manifest under require', () => {
  it('serves its documents by id to user tokens and refuses their text', async () => {
    const file = manifestFile('good.json', JSON.stringify({ [`sha256:${sha256Hex(VIEWER)}`]: VIEWER }));
    const database = await createTestDatabase();
    const service = await startServiceProcess(
      { NODE_ENV: 'development', DATABASE_URL: database.databaseUrl ?? '', PERSISTED_DOCUMENTS: 'require', PERSISTED_DOCUMENTS_FILE: file },
      { token: true },
    );
    try {
      const post = async (body: Record<string, unknown>) => {
        const response = await fetch(service.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${service.token}` },
          body: JSON.stringify(body),
        });
        return (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
      };
      expect((await post({ documentId: `sha256:${sha256Hex(VIEWER)}` })).data).toEqual({ viewer: { subject: 'dev-admin' } });
      expect((await post({ query: VIEWER })).errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect((await post({ documentId: sha256Hex('{ viewer { scopes } }') })).errors?.map((error) => error.extensions?.code)).toEqual([
        'PERSISTED_QUERY_NOT_FOUND',
      ]);
    } finally {
      await service.stop();
      await database.drop();
    }
  });
});
