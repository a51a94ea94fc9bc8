// The fast tests: everything but those that run real processes (ava.config.js's E2E).
import base, { E2E } from './ava.config.js';

export default { ...base, files: [...base.files, ...E2E.map((glob) => `!${glob}`)] };
