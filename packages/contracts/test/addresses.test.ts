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
});
