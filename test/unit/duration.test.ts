import fc from 'fast-check';
import { formatDuration, parseDuration } from '#core/duration';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['PT0S', 0],
    ['PT1M30S', 90 * SECOND],
    ['P1DT2H', DAY + 2 * HOUR],
    ['P2W', 14 * DAY],
    ['P1W2DT3H4M5S', 9 * DAY + 3 * HOUR + 4 * MINUTE + 5 * SECOND],
    ['PT0.5S', 500],
    ['PT1M30.25S', 90_250],
    ['PT0.001S', 1],
    ['PT1.2345S', 1235],
    ['P1D', DAY],
    ['PT36H', 36 * HOUR],
  ])('parses %s as %d ms', (text, expected) => {
    // Act
    const ms = parseDuration(text);

    // Assess
    expect(ms).toBe(expected);
  });

  it.each(['P', 'PT', 'P1Y', 'P1M', '5m', '', 'PT5', 'P1DT', 'PT1.S', 'PT-1S', ' PT1S', 'pt1s', 'P1H'])(
    'rejects %p',
    (text) => {
      // Act
      const parse = () => parseDuration(text);

      // Assess
      expect(parse).toThrow(RangeError);
    },
  );
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, 'PT0S'],
    [90 * SECOND, 'PT1M30S'],
    [90_500, 'PT1M30.5S'],
    [DAY + 2 * HOUR, 'P1DT2H'],
    [14 * DAY, 'P14D'],
    [DAY, 'P1D'],
    [1, 'PT0.001S'],
    [HOUR + 1, 'PT1H0.001S'],
    [0.4, 'PT0S'],
    [1234.6, 'PT1.235S'],
  ])('formats %d ms as %s', (ms, expected) => {
    // Act
    const text = formatDuration(ms);

    // Assess
    expect(text).toBe(expected);
  });

  it.each([-1, -0.6, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('rejects %p', (ms) => {
    // Act
    const format = () => formatDuration(ms);

    // Assess
    expect(format).toThrow(RangeError);
  });

  it('round-trips every whole millisecond count through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (ms) => {
        // Act
        const text = formatDuration(ms);

        // Assess
        expect(parseDuration(text)).toBe(ms);
      }),
      { numRuns: 1000 },
    );
  });
});
