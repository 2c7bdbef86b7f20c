import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { startTestApp, ok, codes, JWT_SECRET, type TestApp } from '../support/harness.ts';
import { startServiceProcess } from '../support/service-process.ts';
import { createTestDatabase } from '../support/database.ts';
import { ORGANIZATION_SCOPES } from '../../src/security/auth.ts';

let t: TestApp;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-cli-'));
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('command line', () => {
  it('mints tokens the service accepts', async () => {
    const { id } = await t.organization('Cli org');
    const result = run(['src/cli.ts', 'token', '--org', id, '--scopes', 'agent:read', '--subject', 'cli-user'], {
      AUTH_JWT_SECRET: JWT_SECRET,
      DATA_DIR: tmp(),
    });
    expect(result.status).toBe(0);
    const token = result.stdout.trim();
    const viewer = ok(await t.request<any>('{ viewer { subject scopes organization { name } } }', {}, { token })).viewer;
    expect(viewer).toEqual({ subject: 'cli-user', scopes: ['agent:read'], organization: { name: 'Cli org' } });
  });

  it('mints every organization scope by default, spelled out and without platform:admin; refuses platform:admin beside --org', async () => {
    const { id } = await t.organization('Cli default');
    const env = { AUTH_JWT_SECRET: JWT_SECRET, DATA_DIR: tmp() };
    const result = run(['src/cli.ts', 'token', '--org', id], env);
    expect(result.status, result.stderr).toBe(0);
    const token = result.stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims.scope).toBe(ORGANIZATION_SCOPES.join(' '));
    expect(ok(await t.request<any>('{ viewer { scopes } }', {}, { token })).viewer.scopes).toEqual([...ORGANIZATION_SCOPES]);
    const upsert = 'mutation { upsertPlatformCatalog(input: { entries: [{ modelProvider: "cli", modelName: "m" }] }) { insertedCount } }';
    expect(codes(await t.request(upsert, {}, { token }))).toEqual(['FORBIDDEN']);

    const refused = run(['src/cli.ts', 'token', '--org', id, '--scopes', 'agent:read platform:admin'], env);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/platform:admin counts only on a token without --org/);
    // A platform token says so.
    const platform = run(['src/cli.ts', 'token', '--scopes', 'platform:admin'], env);
    expect(platform.status, platform.stderr).toBe(0);
    expect(ok(await t.request<any>(upsert, {}, { token: platform.stdout.trim() })).upsertPlatformCatalog.insertedCount).toBe(1);
  });

  it('prints a development token at startup that holds the demo organization\'s scopes and is no platform administrator', async () => {
    const database = await createTestDatabase();
    const service = await startServiceProcess({ DATABASE_URL: database.databaseUrl ?? '', NODE_ENV: 'development' }, { token: true });
    try {
      const post = async (query: string) => {
        const response = await fetch(service.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${service.token}` },
          body: JSON.stringify({ query }),
        });
        return (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
      };
      expect((await post('{ viewer { scopes organization { name } } }')).data.viewer.scopes).toEqual([...ORGANIZATION_SCOPES]);
      const refused = await post('mutation { createOrganization(input: { name: "From the dev token" }) { organization { databaseId } } }');
      expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
      expect(service.output()).toMatch(/Development admin token \(12 h, every scope of the demo organization\)/);
    } finally {
      await service.stop();
      await database.drop();
    }
  }, 180_000);

  it('creates organizations in the embedded database', () => {
    const result = run(['src/cli.ts', 'org', 'create', '--name', 'From CLI'], {
      DATA_DIR: tmp(),
      AUTH_JWT_SECRET: JWT_SECRET,
      DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
    });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toMatchObject({ name: 'From CLI', id: expect.any(String) });
  });

  it('refuses to start in production without secrets, naming them', () => {
    const result = run(['src/main.ts'], { NODE_ENV: 'production', AUTH_JWT_SECRET: '', DB_ENCRYPTION_KEY: '', DATA_DIR: tmp() });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/AUTH_JWT_SECRET/);
    expect(result.stderr).toMatch(/DB_ENCRYPTION_KEY/);
  });
});

describe('embedded database directory lock', () => {
  it('refuses a directory held by a live process and takes over a dead one', async () => {
    const dir = tmp();
    const holder = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(path.join(dir, 'service.lock'), String(holder.pid));
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/in use by another process/);
    } finally {
      holder.kill();
    }
    await new Promise((resolve) => holder.once('exit', resolve));
    const db = await openDatabase({ dataDir: dir });
    expect(await db.ping()).toBe(true);
    await db.close();
    expect(fs.existsSync(path.join(dir, 'service.lock'))).toBe(false);
  });
});
