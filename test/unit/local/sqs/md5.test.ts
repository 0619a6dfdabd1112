/**
 * MD5OfMessageAttributes against the examples in AWS's documentation, and the cases
 * those examples leave out (UTF-8 lengths, binary values, custom type labels).
 */
import { createHash } from 'node:crypto';
import { md5Hex, md5OfMessageAttributes } from '#local/runtime/providers/sqs/md5';

describe('md5OfMessageAttributes', () => {
  it('matches the documented examples', () => {
    // Act
    const one = md5OfMessageAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } });
    const four = md5OfMessageAttributes({
      City: { DataType: 'String', StringValue: 'Any City' },
      PostalCode: { DataType: 'String', StringValue: '99065' },
      Region: { DataType: 'String', StringValue: 'WA' },
      SellerName: { DataType: 'String', StringValue: 'Example Store' },
    });
    const withNumber = md5OfMessageAttributes({
      City: { DataType: 'String', StringValue: 'Any City' },
      PostalCode: { DataType: 'String', StringValue: '99065' },
      PricePerGallon: { DataType: 'Number', StringValue: '1.99' },
      Region: { DataType: 'String', StringValue: 'WA' },
      SellerName: { DataType: 'String', StringValue: 'Example Store' },
    });

    // Assess
    expect(one).toBe('cd28f3b68aeee4b2eac9c66f2f694b58');
    expect(four).toBe('66d793da93becb551e41562575418975');
    expect(withNumber).toBe('10809b55e3d9b22c17220b7dbaf283ef');
  });

  it('prefixes UTF-8 byte lengths, not UTF-16 lengths', () => {
    // Prepare: 'é' and 'ü' are one UTF-16 unit each but two UTF-8 bytes.
    const expected = createHash('md5')
      .update(Buffer.from([0, 0, 0, 2]))
      .update('é')
      .update(Buffer.from([0, 0, 0, 6]))
      .update('String')
      .update(Buffer.from([1, 0, 0, 0, 2]))
      .update('ü')
      .digest('hex');

    // Act
    const actual = md5OfMessageAttributes({ é: { DataType: 'String', StringValue: 'ü' } });

    // Assess
    expect(actual).toBe(expected);
  });

  it('sends Binary and Binary.<label> values with transport byte 2', () => {
    // Prepare
    const expected = createHash('md5')
      .update(Buffer.from([0, 0, 0, 1]))
      .update('b')
      .update(Buffer.from([0, 0, 0, 10]))
      .update('Binary.gif')
      .update(Buffer.from([2, 0, 0, 0, 2, 0xff, 0x00]))
      .digest('hex');

    // Act & Assess
    expect(
      md5OfMessageAttributes({ b: { DataType: 'Binary.gif', BinaryValue: Buffer.from([0xff, 0x00]) } }),
    ).toBe(expected);
  });

  it('is undefined for no attributes, and md5Hex hashes UTF-8', () => {
    // Act & Assess
    expect(md5OfMessageAttributes({})).toBeUndefined();
    expect(md5Hex('hello')).toBe('5d41402abc4b2a76b9719d911017c592');
  });
});
