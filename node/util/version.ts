// The package's version, as package.json names it (`sat-peer --version`, `sat-bootstrap --version`).
import fs from 'node:fs';

/** The version field of the package.json at the root of this package. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
