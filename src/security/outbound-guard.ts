import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { buildConnector } from 'undici';

export class OutboundRefused extends Error {}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const prefix = (cidr: string) => ipaddr.IPv6.parseCIDR(cidr);
const NAT64_WELL_KNOWN = prefix('64:ff9b::/96');
const NAT64_LOCAL_USE = prefix('64:ff9b:1::/48');
const SIX_TO_FOUR = prefix('2002::/16');
const TEREDO = prefix('2001::/32');
const IPV4_MAPPED = prefix('::ffff:0:0/96');
const IPV4_TRANSLATED = prefix('::ffff:0:0:0/96');
const IPV4_COMPATIBLE = prefix('::/96');
/**
 * Cloud metadata services outside the link-local ranges (169.254.0.0/16 and fe80::/10,
 * which hold AWS's, GCP's, Azure's and OpenStack's IPv4 endpoints): AWS and GCP over
 * IPv6, Alibaba Cloud, Azure's WireServer, Oracle Cloud. Kept in normalized form.
 */
const METADATA_ADDRESSES = new Set(
  ['fd00:ec2::254', 'fd20:ce::254', '100.100.100.200', '168.63.129.16', '192.0.0.192'].map((address) => ipaddr.parse(address).toNormalizedString()),
);
/** Host names of metadata services, refused whatever they resolve to (their subdomains too). */
export const METADATA_HOST_NAMES = ['metadata.google.internal', 'metadata.azure.com'];

/**
 * Where RFC 6052 puts the IPv4 address inside a NAT64 prefix of each allowed length
 * (byte 8 is reserved). The local-use prefix may be subdivided by the operator, so every
 * position inside it counts.
 */
const NAT64_POSITIONS = [
  [6, 7, 9, 10], // /48
  [7, 9, 10, 11], // /56
  [9, 10, 11, 12], // /64
  [12, 13, 14, 15], // /96
];

/**
 * The IPv4 addresses an IPv6 address reaches or carries: IPv4-mapped, IPv4-translated
 * and IPv4-compatible addresses, NAT64 (RFC 6052, well-known and local-use prefixes),
 * 6to4 (RFC 3056) and Teredo (RFC 4380: its server and its obfuscated client address).
 */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4[] {
  const bytes = address.toByteArray();
  const at = (offsets: number[], mask = 0) => new ipaddr.IPv4(offsets.map((offset) => bytes[offset]! ^ mask));
  const last = [12, 13, 14, 15];
  if (address.match(IPV4_MAPPED) || address.match(IPV4_TRANSLATED) || address.match(NAT64_WELL_KNOWN)) return [at(last)];
  if (address.match(NAT64_LOCAL_USE)) return NAT64_POSITIONS.map((offsets) => at(offsets));
  if (address.match(SIX_TO_FOUR)) return [at([2, 3, 4, 5])];
  if (address.match(TEREDO)) return [at([4, 5, 6, 7]), at(last, 0xff)];
  // ::a.b.c.d, except :: and ::1, which are themselves.
  if (address.match(IPV4_COMPATIBLE) && !['unspecified', 'loopback'].includes(address.range())) return [at(last)];
  return [];
}

/** Why `address` may not be reached, or null when it may. */
function refusal(address: Address, denyPrivate: boolean): string | null {
  const range = address.range();
  if (range === 'linkLocal' || range === 'unspecified' || METADATA_ADDRESSES.has(address.toNormalizedString())) {
    return `address ${address} is link-local, unspecified or a cloud metadata endpoint`;
  }
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    const embedded = embeddedIPv4(v6);
    for (const inner of embedded) {
      const why = refusal(inner, denyPrivate);
      if (why) return `address ${v6} reaches ${inner}: ${why}`;
    }
    if (denyPrivate && embedded.length === 0 && range !== 'unicast') return `address ${v6} is private, loopback or reserved`;
    return null;
  }
  if (denyPrivate && range !== 'unicast') return `address ${address} is private, loopback or reserved`;
  return null;
}

/** Refuses the host names of metadata services (any case, trailing dots, subdomains). */
export function checkHostName(hostname: string): void {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  const service = METADATA_HOST_NAMES.find((metadata) => name === metadata || name.endsWith(`.${metadata}`));
  if (service) throw new OutboundRefused(`host ${hostname} is a cloud metadata service (${service})`);
}

/**
 * Refuses link-local, unspecified and metadata addresses, and with `denyPrivate`
 * everything that is not global unicast; IPv6 forms that carry an IPv4 address are
 * judged by that address too.
 */
export function checkAddress(address: string, denyPrivate: boolean): void {
  let parsed: Address;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    throw new OutboundRefused(`${address || 'the peer'} is not an IP address`);
  }
  const why = refusal(parsed, denyPrivate);
  if (why) throw new OutboundRefused(why);
}

/** Resolves a host name to every address it has (the system resolver by default). */
export type Resolve = (hostname: string, options: dns.LookupAllOptions) => Promise<dns.LookupAddress[]>;

const systemResolve: Resolve = (hostname, options) => dns.promises.lookup(hostname, options);

/**
 * Opens the socket for `target` once the guard has approved its addresses; `lookup`
 * answers with those addresses only. Tests replace it to see what would be connected to.
 */
export type OpenSocket = (target: buildConnector.Options, lookup: net.LookupFunction, callback: buildConnector.Callback) => void;

/** Every address `hostname` resolves to, each checked: one refused address refuses the name. */
async function approvedAddresses(hostname: string, denyPrivate: boolean, resolve: Resolve): Promise<dns.LookupAddress[]> {
  if (net.isIP(hostname)) {
    checkAddress(hostname, denyPrivate);
    return [{ address: hostname, family: net.isIP(hostname) }];
  }
  checkHostName(hostname);
  const addresses = await resolve(hostname, { all: true });
  if (addresses.length === 0) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
  for (const entry of addresses) checkAddress(entry.address, denyPrivate);
  return addresses;
}

/** A `lookup` that answers with addresses already resolved and checked, so nothing is resolved twice. */
function pinnedLookup(addresses: dns.LookupAddress[]): net.LookupFunction {
  return (_hostname, options, callback) => {
    const answer = callback as unknown as (error: Error | null, address: string | dns.LookupAddress[], family?: number) => void;
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const matching = family ? addresses.filter((entry) => entry.family === family) : addresses;
    if (matching.length === 0) return answer(Object.assign(new Error('no address of the requested family'), { code: 'ENOTFOUND' }), '', 0);
    if (options.all) return answer(null, matching);
    answer(null, matching[0]!.address, matching[0]!.family);
  };
}

/**
 * An undici connector that refuses before any socket exists: a literal address is
 * checked, a name is resolved and every address it has is checked, and the socket is
 * opened to those addresses only (no second resolution a rebinding name could change).
 * The address the socket actually connected to is checked again.
 */
export function guardedConnector(options: { denyPrivate: boolean; timeoutMs: number; resolve?: Resolve; openSocket?: OpenSocket }): buildConnector.connector {
  const resolve = options.resolve ?? systemResolve;
  const openSocket: OpenSocket =
    options.openSocket ?? ((target, lookup, callback) => buildConnector({ timeout: options.timeoutMs, lookup } as buildConnector.BuildOptions)(target, callback));
  return (target, callback) => {
    approvedAddresses(target.hostname, options.denyPrivate, resolve).then(
      (addresses) =>
        openSocket(target, pinnedLookup(addresses), (error, socket) => {
          if (error) return callback(error, null);
          try {
            checkAddress(socket!.remoteAddress ?? '', options.denyPrivate);
          } catch (refused) {
            socket!.destroy();
            return callback(refused as Error, null);
          }
          callback(null, socket!);
        }),
      (error: Error) => callback(error, null),
    );
  };
}
