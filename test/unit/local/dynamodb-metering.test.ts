import { crc32 } from 'node:zlib';
import {
  CapacityMeter,
  errorTypeOf,
  meterRequest,
  meterResponse,
} from '#local/runtime/providers/dynamodb-metering';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('meterRequest', () => {
  it('asks for TOTAL capacity on a write that did not ask, and remembers it asked', () => {
    const metered = meterRequest('DynamoDB_20120810.PutItem', json({ TableName: 't', Item: {} }));
    expect(metered).toMatchObject({ access: 'write', injected: true });
    expect(JSON.parse(metered.body.toString())).toEqual({
      TableName: 't',
      Item: {},
      ReturnConsumedCapacity: 'TOTAL',
    });
  });

  it.each(['TOTAL', 'INDEXES'])('leaves a read that asked for %s untouched', (asked) => {
    const body = json({ TableName: 't', Key: {}, ReturnConsumedCapacity: asked });
    const metered = meterRequest('DynamoDB_20120810.GetItem', body);
    expect(metered).toEqual({ body, access: 'read', injected: false });
  });

  it('replaces NONE, which consumes the same units', () => {
    const metered = meterRequest('DynamoDB_20120810.Query', json({ ReturnConsumedCapacity: 'NONE' }));
    expect(metered.injected).toBe(true);
    expect(JSON.parse(metered.body.toString()).ReturnConsumedCapacity).toBe('TOTAL');
  });

  it.each([
    ['DynamoDB_20120810.DescribeTable', json({ TableName: 't' })],
    ['DynamoDBStreams_20120810.GetRecords', json({})],
    [undefined, json({})],
    ['DynamoDB_20120810.PutItem', Buffer.from('not json')],
    ['DynamoDB_20120810.PutItem', json([1, 2])],
  ])('passes %s through unchanged', (target, body) => {
    const metered = meterRequest(target, body);
    expect(metered.body).toBe(body);
    expect(metered.injected).toBe(false);
  });
});

describe('meterResponse', () => {
  const injected = { body: Buffer.alloc(0), access: 'write', injected: true } as const;

  it('takes injected capacity out of the answer and recomputes its checksum', () => {
    const answer = json({
      Attributes: { a: { S: 'x' } },
      ConsumedCapacity: { TableName: 't', CapacityUnits: 3 },
    });
    const result = meterResponse(injected, 200, { 'x-amz-crc32': String(crc32(answer)) }, answer);
    expect(JSON.parse(result.body.toString())).toEqual({ Attributes: { a: { S: 'x' } } });
    expect(result.headers['x-amz-crc32']).toBe(String(crc32(result.body)));
    expect(result.units).toEqual({ t: { read: 0, write: 3 } });
  });

  it('keeps capacity the caller asked for, and splits a transaction by read and write units', () => {
    const asked = { ...injected, injected: false };
    const answer = json({
      ConsumedCapacity: [
        { TableName: 'a', CapacityUnits: 4, WriteCapacityUnits: 4 },
        { TableName: 'b', CapacityUnits: 2, ReadCapacityUnits: 2 },
      ],
    });
    const result = meterResponse(asked, 200, {}, answer);
    expect(result.body).toBe(answer);
    expect(result.units).toEqual({ a: { read: 0, write: 4 }, b: { read: 2, write: 0 } });
  });

  it('adds no header that was not there', () => {
    const result = meterResponse(injected, 200, {}, json({ ConsumedCapacity: { TableName: 't' } }));
    expect(result.headers).toEqual({});
    expect(result.units).toEqual({ t: { read: 0, write: 0 } });
  });

  it('passes errors and unmetered calls through with no units', () => {
    const error = json({ __type: 'x#ConditionalCheckFailedException' });
    expect(meterResponse(injected, 400, {}, error)).toEqual({ headers: {}, body: error, units: {} });
    const other = { body: Buffer.alloc(0), access: undefined, injected: false };
    expect(meterResponse(other, 200, {}, json({ Table: {} })).units).toEqual({});
    expect(meterResponse(injected, 200, {}, Buffer.from('<html>')).units).toEqual({});
  });
});

describe('CapacityMeter', () => {
  it('sums units by table and counts refused writes by kind', () => {
    const meter = new CapacityMeter();
    meter.add({ t: { read: 0.5, write: 0 } }, 'GetItem');
    meter.add({ t: { read: 1, write: 2 }, u: { read: 0, write: 4 } }, 'TransactWriteItems');
    meter.refused(
      errorTypeOf(json({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException' })),
    );
    meter.refused(
      errorTypeOf(json({ __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException' })),
    );
    meter.refused(errorTypeOf(Buffer.from('not json')));
    expect(meter.report()).toEqual({
      read_units: 1.5,
      write_units: 6,
      conditional_failures: 1,
      transactions_cancelled: 1,
      tables: { t: { read_units: 1.5, write_units: 2 }, u: { read_units: 0, write_units: 4 } },
      operations: {
        GetItem: { read_units: 0.5, write_units: 0 },
        TransactWriteItems: { read_units: 1, write_units: 6 },
      },
    });
  });
});
