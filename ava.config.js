// ava runs the TypeScript tests through tsx (in child processes: with worker threads the loader is not applied).
// `npm test` runs every test; `npm run test:unit` the fast ones; `npm run test:e2e` the multi-process ones.
export const E2E = [
  'test/sim/**/*.test.ts',
  'test/protocol/peer-processes.test.ts',
  'test/peer/team-fetch.test.ts',
  'test/cli/commands/team.test.ts',
];

export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '300s',
};
