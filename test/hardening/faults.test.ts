import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { startTestApp, ok, codes } from '../support/harness.ts';
import { databaseProxy } from '../support/database-proxy.ts';
import { startServiceProcess } from '../support/service-process.ts';

describe('database faults', () => {
  it.skipIf(!process.env.DATABASE_URL)(
    'fails readiness and answers clearly while the database is away, then recovers without a restart',
    async () => {
      // A database of our own, reached through the proxy.
      const direct = await startTestApp();
      const url = new URL(direct.config.DATABASE_URL!);
      await direct.services.database.close();
      const proxy = await databaseProxy(url);
      const t = await startTestApp({ DATABASE_URL: proxy.url, DB_CONNECT_TIMEOUT_MS: '1000' });
      try {
        const org = await t.organization();
        ok(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }));
        expect((await t.app.fetch('http://test.local/readyz')).status).toBe(200);

        await proxy.cut();
        expect((await t.app.fetch('http://test.local/readyz')).status).toBe(503);
        const started = Date.now();
        const failed = await t.request('{ workspaces { totalCount } }', {}, { token: org.token });
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(codes(failed)).toEqual(['INTERNAL_SERVER_ERROR']);
        expect(failed.errors?.[0]?.message).toMatch(/database is unavailable/);
        expect(failed.errors?.[0]?.extensions).toMatchObject({ retryable: true });
        expect(failed.status).toBe(503);
        expect(JSON.stringify(failed)).not.toMatch(/ECONNREFUSED|stack|prisma/i);

        await proxy.restore();
        expect((await t.app.fetch('http://test.local/readyz')).status).toBe(200);
        ok(await t.request('{ workspaces { totalCount } }', {}, { token: org.token }));
      } finally {
        proxy.close();
        await t.close();
        await direct.close();
      }
    },
  );
});

describe('graceful shutdown', () => {
  it('finishes every accepted request after SIGTERM and exits cleanly (the build npm start runs)', async () => {
    const service = await startServiceProcess({ DATABASE_URL: '', NODE_ENV: 'development' }, { token: true });
    const { child, exited } = service;
    const token = service.token!;
    const port = new URL(service.url).port;
    try {
      const output = service.output();
      // npm start runs on the project's own Node, whatever the machine's is.
      expect(/"node":"(\d+)\./.exec(output)?.[1]).toBe('24');
      const body = JSON.stringify({ query: '{ workspaces(first: 50) { totalCount edges { node { name } } } }' });
      // Each request on its own connection, fully written well before the signal, so
      // every one of them has been received when SIGTERM arrives.
      const requests = Array.from(
        { length: 100 },
        () =>
          new Promise<{ status: number; body: { data?: unknown } }>((resolve, reject) => {
            const request = http.request(
              {
                host: '127.0.0.1',
                port: Number(port),
                path: '/graphql',
                method: 'POST',
                agent: false,
                headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
              },
              (response) => {
                let text = '';
                response.on('data', (chunk) => (text += String(chunk)));
                response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as { data?: unknown } }));
              },
            );
            request.on('error', reject);
            request.end(body);
          }),
      );
      await new Promise((r) => setTimeout(r, 150));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      // While draining, readiness fails so that balancers stop routing here.
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      const responses = await Promise.all(requests);
      expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
      expect(responses.every((r) => r.body.data)).toBe(true);
      expect(await exited).toBe(0);
    } finally {
      await service.stop('SIGKILL');
    }
  }, 90_000);
});
