// The root run used by scripts/test.sh: every package's and app's jest project in one report.
// testTimeout is a global option (ignored inside projects): end-to-end suites start real processes.
export default {
  projects: ['<rootDir>/packages/*', '<rootDir>/apps/*', '<rootDir>/e2e'],
  testTimeout: 120_000,
};
