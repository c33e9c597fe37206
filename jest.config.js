// The root run used by scripts/test.sh: every package's and app's jest project in one report.
export default {
  projects: ['<rootDir>/packages/*', '<rootDir>/apps/*', '<rootDir>/e2e'],
};
