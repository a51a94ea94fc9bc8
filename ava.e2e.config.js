// The multi-process tests: real peer processes, bootstrap peers and sims on loopback.
import base, { E2E } from './ava.config.js';

export default { ...base, files: E2E };
