// Completes package-lock.json with the platform-specific optional packages that
// npm left out.
//
// Why: npm 11 omits an optional dependency from the lockfile when the registry it
// talks to cannot serve that package's manifest (npm/cli#9342, #9846), which is the
// case for other platforms' native binaries (@swc/core-darwin-*, @biomejs/cli-win32-*)
// behind a partial mirror. `npm ci` then refuses the very lockfile `npm install`
// wrote ("Missing: ... from lock file"). Recording each such package at the exact
// version its parent pins satisfies `npm ci`; on install npm skips the ones that
// do not fit the platform. Where npm already recorded everything, this is a no-op.
//
// Runs as the root `postinstall`, after npm has written the lockfile.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const path = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'package-lock.json');
let lock;
try {
  lock = JSON.parse(readFileSync(path, 'utf8'));
} catch {
  process.exit(0); // no lockfile yet (e.g. npm install --no-package-lock): nothing to complete
}

const packages = lock.packages ?? {};
const added = [];
for (const [location, meta] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    // Hoisted next to the parent's node_modules, or at the root: npm looks in both.
    const nested = `${location ? `${location}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted] || !/^\d+\.\d+\.\d+/.test(spec)) continue;
    packages[hoisted] = { version: spec, optional: true, ...(meta.dev ? { dev: true } : {}) };
    added.push(`${name}@${spec}`);
  }
}
if (added.length === 0) process.exit(0);

// npm orders lockfile entries this way; keeping it makes the diff minimal.
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, 'en'))),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.error(`complete-lockfile: recorded ${added.length} optional platform package(s) npm left out`);
