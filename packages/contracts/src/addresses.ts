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

/**
 * IPv6 prefixes whose addresses carry an IPv4 address a gateway or the host reaches: the bytes that
 * hold it. NAT64 (RFC 6052, RFC 8215 local use: a DNS64 resolver answers `64:ff9b::a00:5` for a
 * name whose only address is 10.0.0.5, and the NAT64 gateway connects to 10.0.0.5), 6to4, the
 * deprecated IPv4-compatible form, SIIT's IPv4-translated form. Such an address is as private as
 * the IPv4 address in it.
 */
const EMBEDDING: ReadonlyArray<readonly [string, number, readonly number[]]> = [
  ['64:ff9b::', 96, [12, 13, 14, 15]], ['64:ff9b:1::', 48, [6, 7, 9, 10]], ['2002::', 16, [2, 3, 4, 5]],
  ['::', 96, [12, 13, 14, 15]], ['::ffff:0:0:0', 96, [12, 13, 14, 15]],
];
const EMBEDS = EMBEDDING.map(([net, bits, at]) => {
  const list = new BlockList();
  list.addSubnet(net, bits, 'ipv6');
  return { list, at };
});

/** The 16 bytes of an IPv6 address (isIP said 6: `::` at most once, a dotted IPv4 tail allowed). */
function ipv6Bytes(ip: string): number[] {
  const [head, tail] = ip.includes('::') ? ip.split('::') as [string, string] : [ip, undefined];
  const groups = (part: string) => part.split(':').filter(Boolean).flatMap((g) => (g.includes('.') ? g.split('.').map(Number) : [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  return [...front, ...new Array<number>(16 - front.length - back.length).fill(0), ...back];
}

/** Whether an IP address (v4 or v6, no brackets) is one a webhook must not reach. Not an IP: false. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  if (PRIVATE.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return true;
  if (family === 4) return false;
  const embed = EMBEDS.find((e) => e.list.check(ip, 'ipv6'));
  if (!embed) return false;
  const bytes = ipv6Bytes(ip.split('%')[0]!);
  return PRIVATE.check(embed.at.map((i) => bytes[i]).join('.'), 'ipv4');
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
