import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's folder (the nearest one up with a package.json):
 * the same from src/ (tests), dist/ and the bundle in dist/bundle/, whose
 * modules sit at other depths than the sources they came from.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const PACKAGE_ROOT: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A file of the package, by its path from the package's folder. */
export const packageFile = (relative: string): string => path.join(PACKAGE_ROOT, relative);
