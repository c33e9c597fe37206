// Shared by every package (each jest.config.js re-exports it) and by the root multi-project run.
export function jestConfig(dir) {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    transform: {
      '^.+\\.ts$': ['@swc/jest', {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      }],
    },
    moduleNameMapper: {
      // workspace packages resolve to their TypeScript source in tests, so no build is needed
      '^@sup/([a-z-]+)$': '<rootDir>/../../packages/$1/src/index.ts',
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    testTimeout: 60_000,
  };
}
