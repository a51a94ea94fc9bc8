// The fast tests: everything but the multi-process ones (ava.config.js's E2E).
import base, { E2E } from './ava.config.js';

export default { ...base, files: [...base.files, ...E2E.map((glob) => `!${glob}`)] };
