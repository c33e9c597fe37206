import { describe, expect, it } from '@jest/globals';
import { webhookHostAllowed } from '../src/webhooks.js';

describe('webhookHostAllowed (WEBHOOK_ALLOWED_HOSTS)', () => {
  it('allows every host when the list is empty', () => {
    expect(webhookHostAllowed('http://169.254.169.254/latest', [])).toBe(true);
  });

  it('matches a host exactly (any port, any case, a trailing dot), or a host with its port', () => {
    const allowed = ['hooks.example.com', 'ci.example.com:8443', '10.0.0.7', '[::1]:9000'];
    const cases: Array<[string, boolean]> = [
      ['https://hooks.example.com/x?token=1', true],
      ['http://HOOKS.Example.COM:8080/x', true],
      ['https://hooks.example.com./x', true],
      ['https://evil-hooks.example.com/x', false],
      ['https://hooks.example.com.evil.test/x', false],
      ['https://ci.example.com:8443/x', true],
      ['https://ci.example.com/x', false], // 443, not 8443
      ['http://10.0.0.7/x', true],
      ['http://10.0.0.70/x', false],
      ['http://[::1]:9000/x', true],
      ['http://[::1]/x', false],
      ['http://user:pw@attacker.test/@hooks.example.com', false],
      ['not a url', false],
    ];
    for (const [url, want] of cases) expect([url, webhookHostAllowed(url, allowed)]).toEqual([url, want]);
  });

  it('*.domain matches its subdomains at any depth, not the domain itself; a port applies to the default port too', () => {
    const allowed = ['*.corp.example', '*.tls.example:443'];
    const cases: Array<[string, boolean]> = [
      ['https://a.corp.example/x', true],
      ['https://a.b.corp.example:9999/x', true],
      ['https://corp.example/x', false],
      ['https://xcorp.example/x', false],
      ['https://a.tls.example/x', true],
      ['http://a.tls.example/x', false], // port 80
    ];
    for (const [url, want] of cases) expect([url, webhookHostAllowed(url, allowed)]).toEqual([url, want]);
  });
});
