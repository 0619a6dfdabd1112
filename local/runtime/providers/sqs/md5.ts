/**
 * The digests SQS returns with every message, computed as AWS documents them
 * ("Calculating the MD5 message digest for message attributes"), so SDKs that check
 * them (v3 checks the body; the Java SDK also checks the attributes) accept our answers.
 */
import { createHash } from 'node:crypto';

/** A message attribute as stored: binary values are bytes, not base64. */
export interface MessageAttribute {
  /** `String`, `Number` or `Binary`, optionally with a custom label: `Number.float`. */
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: Buffer;
}

const STRING_TRANSPORT = 1;
const BINARY_TRANSPORT = 2;

/**
 * Hex MD5 of a UTF-8 string or of bytes.
 *
 * @example md5Hex('hello') // '5d41402abc4b2a76b9719d911017c592'
 */
export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * MD5OfMessageAttributes (and MD5OfMessageSystemAttributes): for each attribute in
 * name order, the 4-byte big-endian length and UTF-8 bytes of the name and of the data
 * type, one transport byte (1 string or number, 2 binary), then the length and bytes of
 * the value. Undefined for no attributes, as SQS omits the field then.
 *
 * @example
 * md5OfMessageAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } });
 * // 'cd28f3b68aeee4b2eac9c66f2f694b58' (the example in AWS's documentation)
 */
export function md5OfMessageAttributes(
  attributes: Readonly<Record<string, MessageAttribute>>,
): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  const writeWithLength = (bytes: Buffer): void => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of names) {
    const attribute = attributes[name] as MessageAttribute;
    writeWithLength(Buffer.from(name, 'utf8'));
    writeWithLength(Buffer.from(attribute.DataType, 'utf8'));
    if (isBinaryType(attribute.DataType)) {
      hash.update(Buffer.from([BINARY_TRANSPORT]));
      writeWithLength(attribute.BinaryValue ?? Buffer.alloc(0));
    } else {
      hash.update(Buffer.from([STRING_TRANSPORT]));
      writeWithLength(Buffer.from(attribute.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

/** `Binary` and `Binary.<label>` travel as bytes; `String*` and `Number*` as text. */
export function isBinaryType(dataType: string): boolean {
  return dataType === 'Binary' || dataType.startsWith('Binary.');
}
