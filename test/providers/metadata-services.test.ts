import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, ok, codes, type TestApp } from '../support/harness.ts';
import { guardedConnector, OutboundRefused, type OpenSocket, type Resolve } from '../../src/security/outbound-guard.ts';
import { guardedRequest } from '../../src/security/outbound-http.ts';
import { discoverModels } from '../../src/modules/providers/discovery.ts';

// SPEC §17: every cloud's metadata service, refused whatever DISCOVERY_DENY_PRIVATE_NETWORKS says.
const METADATA_IPV4 = ['169.254.169.254', '169.254.0.1', '169.254.255.255', '100.100.100.200', '168.63.129.16', '192.0.0.192'];
const METADATA_IPV6 = [
  'fd00:ec2::254',
  'FD00:0EC2:0000:0000:0000:0000:0000:0254',
  'fd00:ec2:0:0:0:0:0:254',
  'fd20:ce::254',
  'FD20:00CE::0254',
  'fd20:ce:0:0:0:0:0:254',
  'fe80::1',
  'fe80::a9fe:a9fe',
  'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
];
const METADATA_NAMES = ['metadata.google.internal', 'METADATA.Google.Internal', 'metadata.google.internal.', 'computemetadata.metadata.google.internal', 'metadata.azure.com', 'Metadata.Azure.Com..'];

/** An IPv6 address of 16 bytes: `prefix` (bytes from 0), the IPv4 address's bytes at `positions`. */
function withIPv4(prefix: number[], positions: number[], v4: string, mask = 0, suffix: Record<number, number> = {}): string {
  const bytes = new Array<number>(16).fill(0);
  prefix.forEach((byte, index) => (bytes[index] = byte));
  for (const [index, byte] of Object.entries(suffix)) bytes[Number(index)] = byte;
  ipaddr.IPv4.parse(v4).octets.forEach((octet, index) => (bytes[positions[index]!] = octet ^ mask));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Every IPv6 form that carries `v4`: the forms the guard decodes. */
function ipv6Forms(v4: string): Record<string, string> {
  const [a, b, c, d] = ipaddr.IPv4.parse(v4).octets;
  const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
  return {
    'IPv4-mapped dotted': `::ffff:${v4}`,
    'IPv4-mapped hex': `::ffff:${hex(a!, b!)}:${hex(c!, d!)}`,
    'IPv4-mapped in full': `0:0:0:0:0:FFFF:${hex(a!, b!).toUpperCase()}:${hex(c!, d!).toUpperCase()}`,
    'IPv4-translated': `::ffff:0:${hex(a!, b!)}:${hex(c!, d!)}`,
    'IPv4-compatible dotted': `::${v4}`,
    'IPv4-compatible hex': `::${hex(a!, b!)}:${hex(c!, d!)}`,
    'NAT64 well-known': `64:ff9b::${hex(a!, b!)}:${hex(c!, d!)}`,
    'NAT64 well-known dotted': `64:ff9b::${v4}`,
    'NAT64 local-use /48': withIPv4([0, 0x64, 0xff, 0x9b, 0, 1], [6, 7, 9, 10], v4),
    'NAT64 local-use /56': withIPv4([0, 0x64, 0xff, 0x9b, 0, 1], [7, 9, 10, 11], v4),
    'NAT64 local-use /64': withIPv4([0, 0x64, 0xff, 0x9b, 0, 1], [9, 10, 11, 12], v4),
    'NAT64 local-use /96': withIPv4([0, 0x64, 0xff, 0x9b, 0, 1], [12, 13, 14, 15], v4),
    '6to4': withIPv4([0x20, 0x02], [2, 3, 4, 5], v4),
    '6to4 with a subnet': withIPv4([0x20, 0x02], [2, 3, 4, 5], v4, 0, { 7: 1, 15: 1 }),
    'Teredo server': withIPv4([0x20, 0x01, 0, 0], [4, 5, 6, 7], v4, 0, { 15: 1 }),
    'Teredo client': withIPv4([0x20, 0x01, 0, 0, 0x41, 0x36, 0xe3, 0x78, 0x80, 0, 0x63, 0xbf], [12, 13, 14, 15], v4, 0xff),
  };
}

/** Every address to refuse, named by what it is. */
const ADDRESSES: [string, string][] = [
  ...METADATA_IPV4.flatMap((v4) => [[`${v4}`, v4] as [string, string], ...Object.entries(ipv6Forms(v4)).map(([form, v6]) => [`${v4} as ${form}`, v6] as [string, string])]),
  ...METADATA_IPV6.map((v6) => [v6, v6] as [string, string]),
];
const literal = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** A resolver and a socket opener that record every call and never reach the network. */
function stubs(answers: Record<string, string[]>) {
  const resolved: string[] = [];
  const opened: string[] = [];
  const resolve: Resolve = async (hostname) => {
    resolved.push(hostname);
    return (answers[hostname] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const openSocket: OpenSocket = (target, _lookup, callback) => {
    opened.push(target.hostname);
    callback(new Error('the test opens no socket'), null);
  };
  return { resolve, openSocket, resolved, opened };
}

const request = (url: string, denyPrivateNetworks: boolean, stub: ReturnType<typeof stubs>) =>
  guardedRequest(url, { method: 'GET', headers: {}, timeoutMs: 2_000, maxResponseBytes: 1_000, denyPrivateNetworks, resolve: stub.resolve, openSocket: stub.openSocket });

describe('metadata services at connect', () => {
  it('covers every address in every form (a table of more than 100)', () => {
    expect(ADDRESSES.length).toBeGreaterThan(100);
    for (const [, address] of ADDRESSES) expect(ipaddr.isValid(address), address).toBe(true);
  });

  it.each(ADDRESSES)('refuses %s as a literal, with no socket opened', async (_name, address) => {
    for (const deny of [false, true]) {
      const stub = stubs({});
      const result = await request(`http://${literal(address)}/latest/meta-data`, deny, stub);
      expect(result, address).toMatchObject({ ok: false, reason: 'refused', error: expect.stringMatching(/^refused to connect: address .*(link-local, unspecified or a cloud metadata endpoint)/) });
      expect(stub.opened).toEqual([]);
      expect(stub.resolved).toEqual([]);
    }
  });

  it.each(ADDRESSES)('refuses a name resolving to %s, alone or after an allowed address, with no socket opened', async (_name, address) => {
    for (const deny of [false, true]) {
      const stub = stubs({ 'alone.test': [address], 'among.test': ['8.8.8.8', address] });
      for (const host of ['alone.test', 'among.test']) {
        const result = await request(`http://${host}/v1/models`, deny, stub);
        expect(result, `${host} ${address}`).toMatchObject({ ok: false, reason: 'refused' });
      }
      expect(stub.resolved).toEqual(['alone.test', 'among.test']);
      expect(stub.opened).toEqual([]);
    }
  });

  it.each(METADATA_NAMES)('refuses the name %s whatever it resolves to, without resolving it', async (name) => {
    const stub = stubs({ [name]: ['127.0.0.1'], [name.toLowerCase()]: ['127.0.0.1'] });
    const result = await request(`http://${name}/computeMetadata/v1/`, false, stub);
    expect(result).toMatchObject({ ok: false, reason: 'refused', error: expect.stringMatching(/is a cloud metadata service/) });
    // The connector refuses it too, for a caller that skipped the check before it.
    const connect = guardedConnector({ denyPrivate: false, timeoutMs: 2_000, resolve: stub.resolve, openSocket: stub.openSocket });
    const error = await new Promise<Error | null>((done) => connect({ hostname: name, host: name, protocol: 'http:', port: '80' } as never, (...args) => done(args[0])));
    expect(error).toBeInstanceOf(OutboundRefused);
    expect(stub.resolved).toEqual([]);
    expect(stub.opened).toEqual([]);
  });

  it.each(['169.254.169.254', '::ffff:168.63.129.16', '100.100.100.200', 'fd20:ce::254', '64:ff9b::c000:c0'])(
    'refuses a socket that turned out connected to %s, and destroys it',
    async (remoteAddress) => {
      let destroyed = false;
      const socket = { remoteAddress, destroy: () => (destroyed = true) };
      const connect = guardedConnector({
        denyPrivate: false,
        timeoutMs: 2_000,
        resolve: async () => [{ address: '8.8.8.8', family: 4 }],
        openSocket: (_target, _lookup, callback) => callback(null, socket as never),
      });
      const error = await new Promise<Error | null>((done) => connect({ hostname: 'provider.test', host: 'provider.test', protocol: 'http:', port: '80' } as never, (...args) => done(args[0])));
      expect(error).toBeInstanceOf(OutboundRefused);
      expect(destroyed).toBe(true);
    },
  );

  it('discovery gives the refusal as its failure, without the provider key in it', async () => {
    const stub = stubs({ 'gateway.test': ['100.100.100.200'] });
    const result = await discoverModels(
      { baseUrl: 'http://gateway.test/v1', apiKeyHeader: null, apiKey: 'sk-never-sent' },
      { timeoutMs: 2_000, denyPrivateNetworks: false, resolve: stub.resolve, openSocket: stub.openSocket },
    );
    expect(result).toMatchObject({ ok: false, httpStatus: null, reason: 'refused' });
    expect(JSON.stringify(result)).not.toContain('sk-never-sent');
    expect(stub.opened).toEqual([]);
  });
});

const CREATE = 'mutation($input: CreateCustomProviderInput!) { createCustomProvider(input: $input) { customProvider { id baseUrl } } }';
const UPDATE = 'mutation($input: UpdateCustomProviderInput!) { updateCustomProvider(input: $input) { customProvider { id baseUrl } } }';

let t: TestApp;
let org: { id: string; token: string };

describe('metadata services at save and at read', () => {
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_POINTS: '0' });
    org = await t.organization();
  });
  afterAll(() => t.close());

  // The URL spellings a user could write for each IPv4 address (the WHATWG parser reads them all).
  const ipv4Spellings = (v4: string) => {
    const n = ipaddr.IPv4.parse(v4).toByteArray().reduce((sum, byte) => sum * 256 + byte, 0);
    return [v4, String(n), `0x${n.toString(16)}`, ipaddr.IPv4.parse(v4).octets.map((o) => `0${o.toString(8)}`).join('.'), `${v4}.`];
  };
  const SAVED = [
    ...METADATA_IPV4.flatMap(ipv4Spellings),
    ...ADDRESSES.filter(([, address]) => address.includes(':')).map(([, address]) => `[${address}]`),
    ...METADATA_NAMES,
    'metadata.google.internal%2E', // percent-encoded trailing dot
    'metadata%2egoogle.internal',
  ];

  it('refuses every spelling as a baseUrl with BAD_USER_INPUT on input.baseUrl, at create and at update, storing nothing', async () => {
    const existing = ok(await t.request<any>(CREATE, { input: { displayName: 'kept', baseUrl: 'http://127.0.0.1:9/v1' } }, { token: org.token })).createCustomProvider.customProvider;
    for (const host of SAVED) {
      const baseUrl = `http://${host}/latest`;
      const created = await t.request<any>(CREATE, { input: { displayName: 'm', baseUrl } }, { token: org.token });
      expect(codes(created), host).toEqual(['BAD_USER_INPUT']);
      expect(created.errors![0]!.extensions, host).toMatchObject({ argument: 'input.baseUrl' });
      const updated = await t.request<any>(UPDATE, { input: { id: existing.id, baseUrl } }, { token: org.token });
      expect(codes(updated), host).toEqual(['BAD_USER_INPUT']);
      expect(updated.errors![0]!.extensions, host).toMatchObject({ argument: 'input.baseUrl' });
    }
    const list = ok(await t.request<any>('{ customProviders(first: 10) { totalCount edges { node { baseUrl } } } }', {}, { token: org.token })).customProviders;
    expect(list).toEqual({ totalCount: 1, edges: [{ node: { baseUrl: 'http://127.0.0.1:9/v1' } }] });
  });

  it('written as a literal in the mutation, too', async () => {
    const response = await t.request<any>('mutation { createCustomProvider(input: { displayName: "m", baseUrl: "http://[::ffff:100.100.100.200]/" }) { customProvider { id } } }', {}, { token: org.token });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toMatch(/^input\.baseUrl: is refused: address .* reaches 100\.100\.100\.200/);
  });
});
