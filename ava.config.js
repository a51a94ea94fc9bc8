// ava runs the TypeScript tests through tsx (in child processes: with worker threads the loader is not applied).
// `npm test` runs every test; `npm run test:unit` the in-process ones (about a minute on 2 cores);
// `npm run test:e2e` those that run real processes: the CLI as a user runs it, peers, bootstrap peers, sims.
import os from 'node:os';
import path from 'node:path';

export const E2E = [
  'test/cli/**/*.test.ts',
  'test/sim/**/*.test.ts',
  'test/protocol/peer-processes.test.ts',
  'test/peer/team-fetch.test.ts',
  'test/peer/peer-under-attack.test.ts',
  'test/bootstrap/**/*.test.ts',
];

export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  // ava's timeout restarts with each result: a real-size sim (test/sim/real-size.test.ts) runs for minutes
  // without one.
  timeout: '900s',
  // What the sessions of a test run cache goes to the OS temp folder, not the user's cache.
  environmentVariables: { SAT_PEER_CACHE: path.join(os.tmpdir(), 'sat-peer-test-cache') },
};
