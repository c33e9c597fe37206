/**
 * Where a profiled process spent its CPU: self time per library and the top functions, from a
 * .cpuprofile (for instance one written by bench/lib/cpu-prof.mjs).
 *
 *   pnpm exec tsx bench/profile-summary.ts FILE.cpuprofile [--top=30]
 */
import { readFileSync } from 'node:fs';
import { byPackage, inclusive, summarise, topSelf, type CpuProfile } from './lib/profile.js';
import { arg } from './lib/util.js';

const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [--top=30]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const s = summarise(profile);
// inclusive (synchronous stacks only: work after an await counts for whatever resumed it)
const PARTS: Array<[string, RegExp]> = [
  ['gateway client execute()', /^execute@.*gateway-client/],
  ['got (any frame)', /got\/dist/],
  ['store.commit (record JSON + EVALSHA)', /^commit@.*run-store\/dist\/store/],
  ['store.get (GET + parse)', /^get@.*run-store\/dist\/store/],
  ['engine step()', /^step@.*engine\/dist\/step/],
  ['BullMQ moveToActive (fetch)', /moveToActive@/],
  ['BullMQ moveToDelayed (park)', /^moveToDelayed@/],
  ['logging (winston)', /logging\/dist|winston/],
  ['socket writes (writeUtf8String)', /^writeUtf8String@/],
  ['garbage collector', /garbage/],
];
console.log(`${file}: busy ${((100 * s.busy) / s.total).toFixed(0)} % of ${(s.total / 1e6).toFixed(1)} s profiled`);
console.log('inclusive share of busy CPU:');
for (const [label, share] of inclusive(s, PARTS, profile.nodes[0]!.id)) console.log(`${share.toFixed(1).padStart(5)} %  ${label}`);
console.log('self time by library:');
for (const l of byPackage(s)) console.log(l);
console.log(`top ${arg('top', 30)} functions by self time:`);
for (const l of topSelf(s, arg('top', 30))) console.log(l);
