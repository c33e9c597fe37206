import { randomBytes } from 'node:crypto';

export const RUN_ID_RE = /^gr_[a-z0-9]{6,40}$/;

/** `gr_` + 16 lowercase base-36 characters (~82 bits). */
export function newRunId(): string {
  const bytes = randomBytes(16);
  let s = '';
  for (const b of bytes) s += (b % 36).toString(36);
  return `gr_${s}`;
}
