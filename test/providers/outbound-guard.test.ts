import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildConnector } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { checkAddress, guardedConnector, OutboundRefused, type Resolve } from '../../src/security/outbound-guard.ts';
import { discoverModels } from '../../src/modules/providers/discovery.ts';

/** An OpenAI-compatible model list on every loopback address (IPv4 and IPv6), counting the connections it sees. */
async function loopbackProvider() {
  let connections = 0;
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: [{ id: 'm' }] }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// Every spelling of 169.254.169.254 (and of other link-local, unspecified and
// metadata addresses): refused whatever DISCOVERY_DENY_PRIVATE_NETWORKS says.
const METADATA = [
  '169.254.169.254',
  '2852039166', // decimal
  '0xa9fea9fe', // hexadecimal
  '0251.0376.0251.0376', // octal
  '0xa9.0xfe.0xa9.0xfe',
  '0251.254.169.254',
  '169.254.169.254.', // trailing dot
  '169.254.43518', // a.b.16 bits
  '169.16689662', // a.24 bits
  '169.254.0.1',
  '[::ffff:169.254.169.254]', // IPv4-mapped
  '[::ffff:a9fe:a9fe]',
  '[0:0:0:0:0:ffff:a9fe:a9fe]',
  '[::FFFF:A9FE:A9FE]',
  '[::ffff:169.254.0.1]',
  '[::ffff:0:a9fe:a9fe]', // IPv4-translated (RFC 6145)
  '[::a9fe:a9fe]', // IPv4-compatible
  '[::169.254.169.254]',
  '[64:ff9b::a9fe:a9fe]', // NAT64 well-known prefix
  '[64:ff9b::169.254.169.254]',
  '[64:ff9b:1::a9fe:a9fe]', // NAT64 local-use prefix, /96
  '[64:ff9b:1:a9fe:a9:fe00::]', // NAT64 local-use prefix, /48
  '[2002:a9fe:a9fe::]', // 6to4
  '[2002:a9fe:a9fe:1234::1]',
  '[2001:0:4136:e378:8000:63bf:5601:5601]', // Teredo, obfuscated client 169.254.169.254
  '[2001:0:a9fe:a9fe::1]', // Teredo server 169.254.169.254
  '[fd00:ec2::254]', // AWS metadata over IPv6
  '[fe80::1]', // IPv6 link-local
  '[fe80::a9fe:a9fe]',
  '[::]', // unspecified
  '0.0.0.0',
];

// Loopback spellings, refused under DISCOVERY_DENY_PRIVATE_NETWORKS=true before a
// connection to the loopback listener is attempted.
const LOOPBACK = [
  '127.0.0.1',
  '2130706433',
  '0x7f000001',
  '0177.0.0.1',
  '127.1',
  '127.0.0.1.',
  '127.255.255.254',
  'localhost',
  '[::1]',
  '[0:0:0:0:0:0:0:1]',
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[::127.0.0.1]',
  '[64:ff9b::7f00:1]',
  '[2002:7f00:1::]',
  '[2001:0:4136:e378:8000:63bf:80ff:fffe]', // Teredo, obfuscated client 127.0.0.1
];

// Private spellings, refused under DISCOVERY_DENY_PRIVATE_NETWORKS=true.
const PRIVATE = [
  '10.0.0.1',
  '167772161',
  '0x0a000001',
  '012.0.0.1',
  '10.1',
  '[::ffff:10.0.0.1]',
  '[::a00:1]',
  '[64:ff9b::a00:1]',
  '[2002:a00:1::]',
  '172.16.0.1',
  '192.168.0.1',
  '100.64.0.1',
  '[fd12:3456::1]',
];

const VALIDATE = 'mutation($input: ValidateCustomProviderInput!) { validateCustomProvider(input: $input) { valid httpStatus modelCount error } }';

let provider: Awaited<ReturnType<typeof loopbackProvider>>;
let open: TestApp;
let strict: TestApp;
let openToken: string;
let strictToken: string;

beforeAll(async () => {
  provider = await loopbackProvider();
  const settings = { RATE_LIMIT_POINTS: '0', DISCOVERY_VALIDATE_TIMEOUT_MS: '20000' };
  open = await startTestApp(settings);
  strict = await startTestApp({ ...settings, DISCOVERY_DENY_PRIVATE_NETWORKS: 'true' });
  openToken = (await open.organization()).token;
  strictToken = (await strict.organization()).token;
});
afterAll(async () => {
  await open.close();
  await strict.close();
  await provider.close();
});

async function validate(app: TestApp, token: string, baseUrl: string) {
  return ok(await app.request<any>(VALIDATE, { input: { baseUrl } }, { token })).validateCustomProvider as {
    valid: boolean;
    httpStatus: number | null;
    error: string | null;
  };
}

describe('outbound guard', () => {
  it('has a table of more than 40 spellings', () => {
    expect(METADATA.length + LOOPBACK.length + PRIVATE.length).toBeGreaterThan(40);
  });

  it('reaches a loopback provider when private networks are allowed (the listener counts)', async () => {
    const before = provider.connections();
    expect(await validate(open, openToken, `http://127.0.0.1:${provider.port}/v1`)).toMatchObject({ valid: true, httpStatus: 200 });
    expect(await validate(open, openToken, `http://[::1]:${provider.port}/v1`)).toMatchObject({ valid: true, httpStatus: 200 });
    expect(provider.connections()).toBe(before + 2);
  });

  it.each(METADATA)('refuses %s at once, private networks allowed or not', async (host) => {
    for (const [app, token] of [[open, openToken], [strict, strictToken]] as const) {
      const answer = await validate(app, token, `http://${host}/latest/meta-data`);
      expect(answer, host).toMatchObject({ valid: false, httpStatus: null });
      expect(answer.error, host).toMatch(/^refused to connect: address \S+ (is link-local, unspecified or a cloud metadata endpoint|reaches \S+: address \S+ is link-local)/);
    }
  });

  it.each(LOOPBACK)('refuses loopback %s under DISCOVERY_DENY_PRIVATE_NETWORKS without connecting', async (host) => {
    const before = provider.connections();
    const answer = await validate(strict, strictToken, `http://${host}:${provider.port}/v1`);
    expect(answer, host).toMatchObject({ valid: false, httpStatus: null });
    expect(answer.error, host).toMatch(/^refused to connect: address .*private, loopback or reserved/);
    expect(provider.connections(), host).toBe(before);
  });

  it.each(PRIVATE)('refuses private %s under DISCOVERY_DENY_PRIVATE_NETWORKS', async (host) => {
    const answer = await validate(strict, strictToken, `http://${host}/v1`);
    expect(answer, host).toMatchObject({ valid: false, httpStatus: null });
    expect(answer.error, host).toMatch(/^refused to connect: address .*private, loopback or reserved/);
  });

  it('judges an IPv6 address that carries a public IPv4 address by that address', () => {
    for (const address of ['64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8', '2001:0:4136:e378:8000:63bf:f7f7:f7f7', '2606:4700::1111']) {
      expect(() => checkAddress(address, true), address).not.toThrow();
    }
    expect(() => checkAddress('64:ff9b::a9fe:a9fe', false)).toThrow(OutboundRefused);
  });
});

describe('DNS answers', () => {
  const options = (resolve: Resolve) => ({ timeoutMs: 5000, denyPrivateNetworks: false, resolve });
  const target = () => ({ baseUrl: `http://provider.test:${provider.port}/v1`, apiKeyHeader: null });

  it('refuses a name whose answer lists the metadata address after a reachable one, without connecting', async () => {
    const before = provider.connections();
    const result = await discoverModels(target(), options(async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]));
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^refused to connect: address 169\.254\.169\.254/) });
    expect(provider.connections()).toBe(before);
  });

  it('checks every resolution: a name that rebinds to the metadata address is refused the second time', async () => {
    const answers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '169.254.169.254', family: 4 }]];
    let calls = 0;
    const resolve: Resolve = async () => answers[calls++]!;
    const before = provider.connections();
    expect(await discoverModels(target(), options(resolve))).toMatchObject({ ok: true, httpStatus: 200 });
    expect(provider.connections()).toBe(before + 1);
    expect(await discoverModels(target(), options(resolve))).toMatchObject({ ok: false, error: expect.stringMatching(/^refused to connect/) });
    expect(calls).toBe(2);
    expect(provider.connections()).toBe(before + 1);
  });

  it('checks the address actually connected to, whatever the lookup said', async () => {
    // The name resolves to a public address, but the socket is opened through a lookup
    // that answers otherwise (as a resolver between check and connect would).
    const unchecked = ((_host: string, options: { all?: boolean }, callback: (e: null, a: unknown, f?: number) => void) =>
      options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)) as never;
    const connect = guardedConnector({
      denyPrivate: true,
      timeoutMs: 5000,
      resolve: async () => [{ address: '8.8.8.8', family: 4 }],
      openSocket: (target, _pinned, callback) => buildConnector({ timeout: 5000, lookup: unchecked } as buildConnector.BuildOptions)(target, callback),
    });
    const before = provider.connections();
    const outcome = await new Promise<{ error: Error | null }>((resolve) =>
      connect({ hostname: 'provider.test', host: 'provider.test', protocol: 'http:', port: String(provider.port) } as never, (...args) =>
        resolve({ error: args[0] }),
      ),
    );
    expect(outcome.error).toBeInstanceOf(OutboundRefused);
    expect(outcome.error?.message).toMatch(/127\.0\.0\.1 is private, loopback or reserved/);
    // The socket reached the listener and was closed at once.
    await new Promise((r) => setTimeout(r, 50));
    expect(provider.connections()).toBe(before + 1);
  });
});
