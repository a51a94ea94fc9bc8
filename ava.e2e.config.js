// The tests that run real processes: the CLI, peers, bootstrap peers and sims on loopback.
import base, { E2E } from './ava.config.js';

export default { ...base, files: E2E };
