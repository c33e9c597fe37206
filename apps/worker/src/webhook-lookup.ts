import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isPrivateAddress } from '@sup/contracts';

/** The code of the error a delivery to a private address fails with (WEBHOOK_DENY_PRIVATE). */
export const PRIVATE_ADDRESS = 'EPRIVATEADDRESS';

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for got's `dnsLookup` (it goes to http.request) that drops private addresses from what
 * a name resolves to (isPrivateAddress), so the socket only ever connects to a public one: checked
 * at connect time, a name that resolves to a public address when the API checks it and to
 * 169.254.169.254 at delivery (DNS rebinding) gets nothing. A name with no public address fails
 * with PRIVATE_ADDRESS. Answers in both shapes Node asks for (`all: true` with autoSelectFamily).
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: Callback): void {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const usable = addresses.filter((a) => !isPrivateAddress(a.address));
    if (usable.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves to private addresses only`), { code: PRIVATE_ADDRESS }), '');
    }
    if (options.all) return callback(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  });
}
