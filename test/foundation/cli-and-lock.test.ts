import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { startTestApp, ok, JWT_SECRET, type TestApp } from '../support/harness.ts';

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
