import { jestConfig } from '../jest.config.base.js';
const base = jestConfig(import.meta.dirname);
// End-to-end suites start real processes from apps/*/dist (scripts/test.sh builds them first).
export default {
  ...base,
  moduleNameMapper: { ...base.moduleNameMapper, '^@sup/([a-z-]+)$': '<rootDir>/../packages/$1/src/index.ts' },
  testTimeout: 180_000,
};
