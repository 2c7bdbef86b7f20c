import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertOutboundUrl, guardedRequest, type OutboundRequest } from '../../src/security/outbound-http.ts';

let server: http.Server;
let base: string;
const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/elsewhere' });
        return res.end();
      }
      if (req.url === '/large') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('x'.repeat(100_000));
      }
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2_000);
      res.writeHead(201, { 'content-type': 'application/json', 'x-answer': 'yes' });
      res.end(JSON.stringify({ echoed: body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));

const options = (overrides: Partial<OutboundRequest> = {}): OutboundRequest => ({
  method: 'GET',
  headers: {},
  timeoutMs: 5_000,
  maxResponseBytes: 1_000,
  denyPrivateNetworks: false,
  ...overrides,
});

describe('guardedRequest', () => {
  it('sends a POST with its headers and body and answers status, headers and body', async () => {
    const result = await guardedRequest(`${base}/hook`, options({ method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': 'abc' }, body: '{"a":1}' }));
    expect(result).toMatchObject({ ok: true, status: 201, truncated: false });
    if (!result.ok) throw new Error('unreachable');
    expect(result.headers['x-answer']).toBe('yes');
    expect(JSON.parse(result.body.toString())).toEqual({ echoed: '{"a":1}' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/hook', body: '{"a":1}', headers: { 'x-signature': 'abc' } });
  });

  it('returns a redirect as its status without following it', async () => {
    const before = seen.length;
    const result = await guardedRequest(`${base}/redirect`, options());
    expect(result).toMatchObject({ ok: true, status: 302, headers: { location: '/elsewhere' } });
    expect(seen.length).toBe(before + 1);
  });

  it('reads the body up to maxResponseBytes and says it was truncated', async () => {
    const result = await guardedRequest(`${base}/large`, options({ maxResponseBytes: 1_000 }));
    expect(result).toMatchObject({ ok: true, status: 200, truncated: true });
    if (result.ok) expect(result.body.length).toBe(1_000);
    const whole = await guardedRequest(`${base}/large`, options({ maxResponseBytes: 100_000 }));
    expect(whole).toMatchObject({ ok: true, truncated: false });
    if (whole.ok) expect(whole.body.length).toBe(100_000);
  });

  it('answers timeout, unreachable and refused as reasons, never throwing', async () => {
    expect(await guardedRequest(`${base}/slow`, options({ timeoutMs: 200 }))).toMatchObject({ ok: false, reason: 'timeout', error: 'did not answer within 200 ms' });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await guardedRequest(`http://127.0.0.1:${port}/`, options())).toMatchObject({ ok: false, reason: 'unreachable', error: 'connection refused' });
    const unresolvable = await guardedRequest('http://nowhere.test/', options({ resolve: async () => { throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }); } }));
    expect(unresolvable).toMatchObject({ ok: false, reason: 'unreachable', error: 'host name could not be resolved' });
    expect(await guardedRequest(`${base}/`, options({ denyPrivateNetworks: true }))).toMatchObject({ ok: false, reason: 'refused', error: expect.stringMatching(/^refused to connect: address 127\.0\.0\.1 is private/) });
  });
});

describe('assertOutboundUrl', () => {
  it('refuses a metadata address or name as BAD_USER_INPUT naming the argument, and lets other hosts through', () => {
    for (const url of ['http://169.254.169.254/', 'http://[fd20:ce::254]/', 'http://metadata.google.internal/', 'https://METADATA.AZURE.COM./x']) {
      let error: any;
      try {
        assertOutboundUrl(new URL(url), 'input.url');
      } catch (caught) {
        error = caught;
      }
      expect(error?.extensions, url).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'input.url' });
      expect(error.message, url).toMatch(/^input\.url: is refused: /);
    }
    for (const url of ['http://127.0.0.1:8080/', 'https://api.example.com/v1', 'http://10.0.0.1/', 'http://[::1]/']) {
      expect(() => assertOutboundUrl(new URL(url), 'input.url'), url).not.toThrow();
    }
  });
});
