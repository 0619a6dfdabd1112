/**
 * Message content rules: the characters SQS accepts in a body, and the shape of message
 * (user) attributes and message system attributes. Messages the rules reject get the
 * error, and the wording, AWS uses.
 */
import { invalidMessageContents, invalidParameterValue } from './errors';
import { isBinaryType, type MessageAttribute } from './md5';

/** An attribute as a caller gives it; binary values as bytes. */
export interface MessageAttributeInput {
  readonly DataType?: string;
  readonly StringValue?: string;
  readonly BinaryValue?: Uint8Array;
  readonly StringListValues?: readonly string[];
  readonly BinaryListValues?: readonly Uint8Array[];
}

/** #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF. Lone surrogates fail too. */
const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const MAX_ATTRIBUTES = 10;
/** SQS numbers: up to 38 significant digits, between -10^128 and 10^126. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Fails with InvalidMessageContents when `text` holds a character SQS does not accept. */
export function assertValidCharacters(text: string): void {
  if (INVALID_CHARACTER.test(text)) throw invalidMessageContents();
}

/**
 * Validates message (user) attributes and returns them as stored.
 *
 * @example
 * validateMessageAttributes({ n: { DataType: 'Number', StringValue: '1' } }); // { n: { DataType: 'Number', StringValue: '1' } }
 */
export function validateMessageAttributes(
  input: Readonly<Record<string, MessageAttributeInput>> | undefined,
): Record<string, MessageAttribute> {
  const entries = Object.entries(input ?? {});
  if (entries.length > MAX_ATTRIBUTES) {
    throw invalidParameterValue(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`,
    );
  }
  const attributes: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of entries) {
    assertValidAttributeName(name);
    attributes[name] = validateAttribute('message (user)', name, attribute);
  }
  return attributes;
}

/** Validates MessageSystemAttributes: SQS knows only `AWSTraceHeader`, a String. */
export function validateSystemAttributes(
  input: Readonly<Record<string, MessageAttributeInput>> | undefined,
): Record<string, MessageAttribute> {
  const attributes: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of Object.entries(input ?? {})) {
    if (name !== 'AWSTraceHeader') {
      throw invalidParameterValue(`Message system attribute name '${name}' is invalid.`);
    }
    if (attribute.DataType !== 'String') {
      throw invalidParameterValue(`Message system attribute '${name}' must have data type 'String'.`);
    }
    attributes[name] = validateAttribute('message system', name, attribute);
  }
  return attributes;
}

/** Bytes SQS counts toward MaximumMessageSize for an attribute: name, data type and value. */
export function attributeSize(attributes: Readonly<Record<string, MessageAttribute>>): number {
  let size = 0;
  for (const [name, attribute] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(attribute.DataType);
    size += attribute.BinaryValue
      ? attribute.BinaryValue.length
      : Buffer.byteLength(attribute.StringValue ?? '');
  }
  return size;
}

function assertValidAttributeName(name: string): void {
  const lower = name.toLowerCase();
  if (
    !ATTRIBUTE_NAME.test(name) ||
    name.startsWith('.') ||
    name.endsWith('.') ||
    name.includes('..') ||
    lower.startsWith('aws.') ||
    lower.startsWith('amazon.')
  ) {
    throw invalidParameterValue(`Message (user) attribute name '${name}' is invalid.`);
  }
}

function validateAttribute(kind: string, name: string, attribute: MessageAttributeInput): MessageAttribute {
  const dataType = attribute.DataType;
  if (!dataType) {
    throw invalidParameterValue(
      `The message ${kind} attribute '${name}' must contain a non-empty attribute type.`,
    );
  }
  const base = dataType.split('.', 1)[0];
  if (base !== 'String' && base !== 'Number' && base !== 'Binary') {
    throw invalidParameterValue(
      `The type of message ${kind} attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
    );
  }
  if (attribute.StringListValues?.length || attribute.BinaryListValues?.length) {
    throw invalidParameterValue(`Message ${kind} attribute list values in '${name}' are not supported.`);
  }
  if (isBinaryType(dataType)) {
    if (!attribute.BinaryValue || attribute.BinaryValue.length === 0) {
      throw invalidParameterValue(
        `The message ${kind} attribute '${name}' must contain a non-empty value of type '${dataType}'.`,
      );
    }
    return { DataType: dataType, BinaryValue: Buffer.from(attribute.BinaryValue) };
  }
  const value = attribute.StringValue;
  if (value === undefined || value === '') {
    throw invalidParameterValue(
      `The message ${kind} attribute '${name}' must contain a non-empty value of type '${base}'.`,
    );
  }
  assertValidCharacters(value);
  if (base === 'Number' && !isSqsNumber(value)) {
    throw invalidParameterValue(`Can't cast the value of message ${kind} attribute '${name}' to a number.`);
  }
  return { DataType: dataType, StringValue: value };
}

function isSqsNumber(value: string): boolean {
  if (!NUMBER.test(value.trim())) return false;
  const digits = value
    .replace(/[eE].*$/, '')
    .replace(/[^0-9]/g, '')
    .replace(/^0+/, '');
  const magnitude = Math.abs(Number(value));
  return digits.length <= 38 && Number.isFinite(magnitude) && magnitude <= 1e126;
}
