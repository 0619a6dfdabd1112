import * as z from 'zod';
import { WIRE_SCHEMAS } from '../functions/core/wire';

/**
 * Renders every wire schema as a JSON Schema (draft 2020-12), keyed by file name.
 * Request schemas are rendered as the caller writes them (`io: 'input'`: defaults
 * make fields optional); results as the server sends them.
 */
export function renderSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, schema] of Object.entries(WIRE_SCHEMAS)) {
    const io = /Request$|Registration$|^RecoveryPlan$|^Issue$|Constraints$/.test(name) ? 'input' : 'output';
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
    const doc = { $id: `urn:master-orchestrator:schema:${name}`, title: name, ...json };
    out.set(`${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}
