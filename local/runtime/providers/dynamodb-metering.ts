/**
 * Capacity metering for the DynamoDB provider: the read and write request units each call
 * consumed, as DynamoDB Local itself computes them (item size, strong or eventual reads, two
 * units per item in a transaction). The provider asks for `ReturnConsumedCapacity: TOTAL` on
 * every call that supports it, adds the units to its counters, and, when the caller had not
 * asked, takes the field out of the response again and recomputes the `x-amz-crc32` checksum,
 * so the client sees exactly the answer it would have had.
 *
 * Not metered: a write refused by its condition. DynamoDB still bills it (one unit per KB of
 * the item), but DynamoDB Local returns no capacity with an error, so such refusals are counted
 * apart (`conditional_failures`, `transactions_cancelled`) rather than guessed.
 */
import { crc32 } from 'node:zlib';
import type { UsageReport } from '../types';

const PREFIX = 'DynamoDB_20120810.';
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export type Access = 'read' | 'write';

/** A request as the metering changed it: the body to send and what to do with the answer. */
export interface MeteredRequest {
  readonly body: Buffer;
  /** undefined for calls that consume no capacity units (CreateTable, DescribeTable, ...). */
  readonly access: Access | undefined;
  /** True when the caller had not asked for ConsumedCapacity and the answer must drop it. */
  readonly injected: boolean;
}

/** The operation of a DynamoDB JSON call, from its `X-Amz-Target`. */
export function dynamoOperation(target: string | undefined): string | undefined {
  return target?.startsWith(PREFIX) ? target.slice(PREFIX.length) : undefined;
}

/**
 * Asks for `ReturnConsumedCapacity: TOTAL` on a call that consumes capacity and did not ask
 * for it. A body that is not a JSON object is passed on untouched, for DynamoDB Local to refuse.
 *
 * @example
 * meterRequest('DynamoDB_20120810.GetItem', Buffer.from('{"TableName":"t","Key":{}}'));
 * // { body: <…,"ReturnConsumedCapacity":"TOTAL"}>, access: 'read', injected: true }
 */
export function meterRequest(target: string | undefined, body: Buffer): MeteredRequest {
  const operation = dynamoOperation(target);
  const access =
    operation === undefined
      ? undefined
      : READS.has(operation)
        ? 'read'
        : WRITES.has(operation)
          ? 'write'
          : undefined;
  if (access === undefined) return { body, access, injected: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { body, access, injected: false };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { body, access, injected: false };
  const input = parsed as Record<string, unknown>;
  const asked = input.ReturnConsumedCapacity;
  if (asked === 'TOTAL' || asked === 'INDEXES') return { body, access, injected: false };
  input.ReturnConsumedCapacity = 'TOTAL';
  return { body: Buffer.from(JSON.stringify(input)), access, injected: true };
}

interface Consumed {
  readonly TableName?: string;
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
}

/** The units one answer reports, by table: `{ orders: { read: 0, write: 4 } }`. */
export type ConsumedUnits = Record<string, { read: number; write: number }>;

/**
 * Reads the consumed capacity out of a successful answer and, when `injected`, removes it and
 * recomputes the checksum. Error answers pass through untouched with no units.
 */
export function meterResponse(
  metered: MeteredRequest,
  status: number,
  headers: Record<string, string>,
  body: Buffer,
): { headers: Record<string, string>; body: Buffer; units: ConsumedUnits } {
  if (metered.access === undefined || status !== 200) return { headers, body, units: {} };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { headers, body, units: {} };
  }
  const consumed = parsed.ConsumedCapacity;
  const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Consumed[];
  const units: ConsumedUnits = {};
  for (const entry of entries) {
    const table = entry.TableName ?? 'unknown';
    const sum = units[table] ?? { read: 0, write: 0 };
    units[table] = sum;
    if (entry.ReadCapacityUnits !== undefined || entry.WriteCapacityUnits !== undefined) {
      sum.read += entry.ReadCapacityUnits ?? 0;
      sum.write += entry.WriteCapacityUnits ?? 0;
    } else {
      sum[metered.access] += entry.CapacityUnits ?? 0;
    }
  }
  if (!metered.injected) return { headers, body, units };
  delete parsed.ConsumedCapacity;
  const stripped = Buffer.from(JSON.stringify(parsed));
  const rewritten = { ...headers };
  if ('x-amz-crc32' in rewritten) rewritten['x-amz-crc32'] = String(crc32(stripped));
  return { headers: rewritten, body: stripped, units };
}

/** Cumulative counters of one DynamoDB provider. */
export class CapacityMeter {
  private readonly tables = new Map<string, { read: number; write: number }>();
  private readonly operations = new Map<string, { read: number; write: number }>();
  private conditionalFailures = 0;
  private transactionsCancelled = 0;

  /** Adds one answer's units, by table and by `operation` (PutItem, TransactWriteItems, ...). */
  add(units: ConsumedUnits, operation = 'unknown'): void {
    for (const [table, { read, write }] of Object.entries(units)) {
      for (const [map, key] of [
        [this.tables, table],
        [this.operations, operation],
      ] as const) {
        const sum = map.get(key) ?? { read: 0, write: 0 };
        sum.read += read;
        sum.write += write;
        map.set(key, sum);
      }
    }
  }

  /** Counts a refused write from the error type of a 400 answer. */
  refused(errorType: string | undefined): void {
    if (errorType?.endsWith('ConditionalCheckFailedException')) this.conditionalFailures += 1;
    else if (errorType?.endsWith('TransactionCanceledException')) this.transactionsCancelled += 1;
  }

  report(): UsageReport {
    let read = 0;
    let write = 0;
    const tables: Record<string, UsageReport> = {};
    for (const [table, sum] of this.tables) {
      read += sum.read;
      write += sum.write;
      tables[table] = { read_units: sum.read, write_units: sum.write };
    }
    const operations: Record<string, UsageReport> = {};
    for (const [operation, sum] of this.operations)
      operations[operation] = { read_units: sum.read, write_units: sum.write };
    return {
      read_units: read,
      write_units: write,
      conditional_failures: this.conditionalFailures,
      transactions_cancelled: this.transactionsCancelled,
      tables,
      operations,
    };
  }
}

/** The `__type` of a DynamoDB JSON error body, if it is one. */
export function errorTypeOf(body: Buffer): string | undefined {
  try {
    const type = (JSON.parse(body.toString('utf8')) as { __type?: unknown }).__type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}
