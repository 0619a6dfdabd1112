/**
 * Writes one JSON Schema per wire schema into events/schemas/, from the zod source.
 *   npm run schemas            regenerate
 *   tsx scripts/generate-schemas.ts --check   exit 1 if any file is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSchemas } from '#events/render-schemas';

const dir = join(__dirname, '..', 'events', 'schemas');
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [file, text] of renderSchemas()) {
  const path = join(dir, file);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current === text) continue;
  stale.push(file);
  if (!check) writeFileSync(path, text);
}
if (check && stale.length > 0) {
  console.error(`stale JSON Schemas in events/schemas: ${stale.join(', ')}; run npm run schemas`);
  process.exit(1);
}
console.log(check ? 'events/schemas is up to date' : `wrote ${stale.length} schema file(s)`);
