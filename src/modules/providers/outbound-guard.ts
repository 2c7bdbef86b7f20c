import dns from 'node:dns';
import net from 'node:net';

/** Link-local and cloud metadata addresses: never reachable from discovery. */
const ALWAYS_DENIED = new net.BlockList();
ALWAYS_DENIED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_DENIED.addAddress('fd00:ec2::254', 'ipv6');
ALWAYS_DENIED.addSubnet('fe80::', 10, 'ipv6');

/** Private, loopback and unspecified ranges, refused when DISCOVERY_DENY_PRIVATE_NETWORKS is on. */
const PRIVATE = new net.BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addAddress('::', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

export class OutboundRefused extends Error {}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is checked as the IPv4 address it carries. */
function normalize(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: net.isIPv6(address) ? 'ipv6' : 'ipv4' };
}

export function checkAddress(address: string, denyPrivate: boolean): void {
  const { address: ip, family } = normalize(address);
  if (ALWAYS_DENIED.check(ip, family)) throw new OutboundRefused(`address ${ip} is link-local or a metadata endpoint`);
  if (denyPrivate && PRIVATE.check(ip, family)) throw new OutboundRefused(`address ${ip} is private or loopback`);
}

/**
 * A `lookup` for outbound connections that refuses forbidden addresses after DNS
 * resolution, so a hostname pointing at a metadata endpoint is refused too.
 */
export function guardedLookup(denyPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as dns.LookupAddress[];
      try {
        for (const entry of list) checkAddress(entry.address, denyPrivate);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
