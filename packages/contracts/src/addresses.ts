import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook must not reach when WEBHOOK_DENY_PRIVATE is set: loopback, private networks,
 * link-local (a cloud's metadata service at 169.254.169.254), carrier-grade NAT, "this network",
 * multicast and reserved ranges, and their IPv6 counterparts. Node's BlockList checks IPv4-mapped
 * IPv6 addresses (`::ffff:127.0.0.1`) against the IPv4 rules.
 */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

/** Whether an IP address (v4 or v6, no brackets) is one a webhook must not reach. Not an IP: false. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && PRIVATE.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether a URL names a private address literally (`http://127.0.0.1/`, `http://[::1]/`, and every
 * spelling the URL parser turns into one: `http://2130706433/`, `http://0x7f.1/`). Host names are
 * checked at delivery, against what they resolve to.
 */
export function webhookLiteralPrivate(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const host = new URL(url).hostname;
  return isPrivateAddress(host.startsWith('[') ? host.slice(1, -1) : host);
}
