import { describe, expect, it } from '@jest/globals';
import { isPrivateAddress, webhookLiteralPrivate } from '../src/addresses.js';

describe('private addresses (WEBHOOK_DENY_PRIVATE)', () => {
  it('covers loopback, private, link-local, CGNAT, multicast and their IPv6 and IPv4-mapped forms; not public ones', () => {
    const priv = ['127.0.0.1', '10.1.2.3', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
      '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe'];
    const pub = ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', 'example.com', 'localhost', ''];
    expect(priv.filter((ip) => !isPrivateAddress(ip))).toEqual([]);
    expect(pub.filter((ip) => isPrivateAddress(ip))).toEqual([]);
  });

  it('sees every spelling the URL parser turns into a private address; host names are left to the lookup', () => {
    const priv = ['http://127.0.0.1:8080/x', 'http://2130706433/', 'http://0x7f.1/', 'http://017700000001/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/',
      'https://169.254.169.254/latest/meta-data', 'http://10.0.0.1./'];
    const other = ['https://hooks.example.com/x', 'http://localhost/', 'http://8.8.8.8/', 'not a url'];
    expect(priv.filter((u) => !webhookLiteralPrivate(u))).toEqual([]);
    expect(other.filter((u) => webhookLiteralPrivate(u))).toEqual([]);
  });

  it('sees the IPv4 address inside NAT64, 6to4, IPv4-compatible and IPv4-translated IPv6 addresses; public ones inside stay usable', () => {
    // a DNS64 resolver answers 64:ff9b::a00:5 for a name whose only address is 10.0.0.5; the NAT64 gateway connects to 10.0.0.5
    const priv = ['64:ff9b::a00:5', '64:ff9b::169.254.169.254', '64:ff9b:1:7f00:0:100::', '2002:a9fe:a9fe::1', '::7f00:1', '::127.0.0.1',
      '::ffff:0:a00:1', '::ffff:0:192.168.1.1'];
    const pub = ['64:ff9b::808:808', '64:ff9b::8.8.8.8', '64:ff9b:1:808:8:8::', '2002:808:808::1', '::808:808', '::ffff:0:808:808'];
    expect(priv.filter((ip) => !isPrivateAddress(ip))).toEqual([]);
    expect(pub.filter((ip) => isPrivateAddress(ip))).toEqual([]);
    expect(['http://[64:ff9b::7f00:1]/', 'http://[::127.0.0.1]:8262/', 'http://[2002:7f00:1::]/'].filter((u) => !webhookLiteralPrivate(u))).toEqual([]);
  });
});
