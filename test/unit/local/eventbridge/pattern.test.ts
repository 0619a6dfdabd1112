/**
 * EventBridge event-pattern matching, with the examples of AWS's "Content filtering" and
 * "Comparison operators" pages, each operator with a negative case.
 */
import {
  InvalidEventPatternError,
  matchesPattern,
  parseEventPattern,
} from '#local/runtime/providers/eventbridge/pattern';

const event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: [
    'arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0',
    'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
  ],
  detail: {
    'instance-id': 'i-1234567890abcdef0',
    state: 'terminated',
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.123',
    FileName: 'photo.PNG',
    FilePath: '/usr/lib/node',
    empty: '',
    nothing: null,
    flag: false,
    tags: ['red', 'green'],
    location: { city: 'New York', day: 'Monday' },
    items: [
      { sku: 'a1', qty: 2 },
      { sku: 'b2', qty: 7 },
    ],
  },
};

const cases: readonly [string, object, boolean][] = [
  ['exact source', { source: ['aws.ec2'] }, true],
  ['exact source, OR list', { source: ['aws.s3', 'aws.ec2'] }, true],
  ['exact source, wrong value', { source: ['aws.s3'] }, false],
  ['exact match is case-sensitive', { source: ['AWS.EC2'] }, false],
  ['nested fields, AND', { detail: { location: { city: ['New York'], day: ['Monday'] } } }, true],
  ['nested fields, one fails', { detail: { location: { city: ['New York'], day: ['Tuesday'] } } }, false],
  ['missing field', { detail: { missing: ['x'] } }, false],
  ['number', { detail: { 'c-count': [5] } }, true],
  ['number vs string', { detail: { 'c-count': ['5'] } }, false],
  ['boolean', { detail: { flag: [false] } }, true],
  ['null', { detail: { nothing: [null] } }, true],
  ['null does not match a missing field', { detail: { missing: [null] } }, false],
  ['empty string', { detail: { empty: [''] } }, true],
  [
    'array in event: intersection',
    { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
    true,
  ],
  ['array in event: no intersection', { detail: { tags: ['blue'] } }, false],
  ['array of objects in event', { detail: { items: { sku: ['b2'] } } }, true],
  ['array of objects in event, no element', { detail: { items: { sku: ['c3'] } } }, false],
  ['prefix', { time: [{ prefix: '2017-12-22' }] }, true],
  ['prefix, negative', { time: [{ prefix: '2017-10-02' }] }, false],
  ['prefix ignore case', { source: [{ prefix: { 'equals-ignore-case': 'AWS.E' } }] }, true],
  ['prefix ignore case, negative', { source: [{ prefix: { 'equals-ignore-case': 'AWS.S' } }] }, false],
  ['suffix', { detail: { FileName: [{ suffix: '.PNG' }] } }, true],
  ['suffix is case-sensitive', { detail: { FileName: [{ suffix: '.png' }] } }, false],
  ['suffix ignore case', { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, true],
  ['equals-ignore-case', { detail: { state: [{ 'equals-ignore-case': 'TERMINATED' }] } }, true],
  ['equals-ignore-case, negative', { detail: { state: [{ 'equals-ignore-case': 'running' }] } }, false],
  ['anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, true],
  ['anything-but string, excluded', { detail: { state: [{ 'anything-but': 'terminated' }] } }, false],
  ['anything-but number', { detail: { 'c-count': [{ 'anything-but': 123 }] } }, true],
  ['anything-but number, excluded', { detail: { 'c-count': [{ 'anything-but': 5 }] } }, false],
  ['anything-but list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, true],
  [
    'anything-but list, excluded',
    { detail: { state: [{ 'anything-but': ['stopped', 'terminated'] }] } },
    false,
  ],
  ['anything-but on a missing field', { detail: { missing: [{ 'anything-but': 'x' }] } }, false],
  ['anything-but prefix', { region: [{ 'anything-but': { prefix: 'us-east' } }] }, true],
  ['anything-but prefix, excluded', { region: [{ 'anything-but': { prefix: 'us-' } }] }, false],
  ['anything-but suffix', { detail: { FileName: [{ 'anything-but': { suffix: '.jpg' } }] } }, true],
  [
    'anything-but suffix, excluded',
    { detail: { FileName: [{ 'anything-but': { suffix: '.PNG' } }] } },
    false,
  ],
  [
    'anything-but ignore case',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'RUNNING' } }] } },
    true,
  ],
  [
    'anything-but ignore case, excluded',
    { detail: { state: [{ 'anything-but': { 'equals-ignore-case': 'TERMINATED' } }] } },
    false,
  ],
  ['anything-but wildcard', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/bin/*' } }] } }, true],
  [
    'anything-but wildcard, excluded',
    { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } },
    false,
  ],
  ['numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, true],
  ['numeric range, outside', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, false],
  ['numeric =', { detail: { 'x-limit': [{ numeric: ['=', 301.8] }] } }, true],
  ['numeric <', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, true],
  ['numeric >=, negative', { detail: { 'd-count': [{ numeric: ['>=', 4] }] } }, false],
  ['numeric on a string', { detail: { state: [{ numeric: ['>', 0] }] } }, false],
  ['exists true', { detail: { state: [{ exists: true }] } }, true],
  ['exists true, missing', { detail: { missing: [{ exists: true }] } }, false],
  ['exists false, missing', { detail: { missing: [{ exists: false }] } }, true],
  ['exists false, present', { detail: { state: [{ exists: false }] } }, false],
  ['wildcard', { detail: { FilePath: [{ wildcard: '/usr/*/node' }] } }, true],
  ['wildcard, several stars', { detail: { FilePath: [{ wildcard: '*sr*no*' }] } }, true],
  ['wildcard, negative', { detail: { FilePath: [{ wildcard: '/opt/*' }] } }, false],
  ['wildcard dot is literal', { detail: { FileName: [{ wildcard: 'photo?PNG' }] } }, false],
  ['cidr', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, true],
  ['cidr, outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, false],
  [
    '$or, second branch',
    { $or: [{ source: ['aws.s3'] }, { detail: { 'c-count': [{ numeric: ['>', 1] }] } }] },
    true,
  ],
  [
    '$or, no branch',
    { $or: [{ source: ['aws.s3'] }, { detail: { 'c-count': [{ numeric: ['>', 10] }] } }] },
    false,
  ],
  [
    '$or nested, ANDed with siblings',
    { source: ['aws.ec2'], detail: { $or: [{ state: ['running'] }, { flag: [false] }] } },
    true,
  ],
  ['mixed matchers OR', { detail: { state: ['running', { prefix: 'term' }] } }, true],
  ['empty pattern matches everything', {}, true],
];

describe('matchesPattern', () => {
  it.each(cases)('%s', (_name, pattern, expected) => {
    // Act
    const result = matchesPattern(parseEventPattern(JSON.stringify(pattern)), event);

    // Assert
    expect(result).toBe(expected);
  });
});

describe('parseEventPattern', () => {
  it.each([
    ['not JSON', '{source'],
    ['not an object', '["aws.ec2"]'],
    ['a leaf that is not an array', '{"source":"aws.ec2"}'],
    ['an unknown operator', '{"source":[{"contains":"ec2"}]}'],
    ['numeric with a bad operator', '{"n":[{"numeric":["!=",1]}]}'],
    ['numeric with a string bound', '{"n":[{"numeric":[">","1"]}]}'],
    ['exists not boolean', '{"n":[{"exists":"yes"}]}'],
    ['anything-but with mixed list', '{"n":[{"anything-but":["a",1]}]}'],
    ['$or with one branch', '{"$or":[{"a":["b"]}]}'],
    ['consecutive wildcards', '{"n":[{"wildcard":"a**b"}]}'],
    ['a malformed cidr', '{"n":[{"cidr":"10.0.0.0/40"}]}'],
  ])('rejects %s', (_name, text) => {
    expect(() => parseEventPattern(text)).toThrow(InvalidEventPatternError);
  });

  it('accepts an object as CloudFormation gives it', () => {
    expect(parseEventPattern({ source: ['aws.ec2'] })).toEqual({ source: ['aws.ec2'] });
  });
});
