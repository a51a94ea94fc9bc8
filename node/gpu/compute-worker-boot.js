// The compute worker's first module, in plain JavaScript: loader hooks from the parent's --import do
// not reach worker threads on Node 20, so register tsx here before importing the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./compute-worker-entry.ts');
