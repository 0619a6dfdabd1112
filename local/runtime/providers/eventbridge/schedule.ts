/**
 * Schedule expressions of EventBridge rules: `rate(n minute|minutes|hour|hours|day|days)`
 * and the 6-field `cron(minutes hours day-of-month month day-of-week year)`, in UTC.
 *
 * Cron fields take `*`, `?`, numbers, ranges `a-b`, lists `a,b`, steps `* /n` and `a/n`,
 * and month / weekday names (`JAN`, `MON-FRI`; Sunday is 1). `L`, `W` and `#` are not
 * supported: {@link parseSchedule} throws {@link UnsupportedScheduleError} for them.
 */

/** The expression is not valid (EventBridge answers `ValidationException`). */
export class InvalidScheduleError extends Error {
  override readonly name = 'ValidationException';
}

/** Valid in AWS, but not run by the local runtime. */
export class UnsupportedScheduleError extends Error {
  override readonly name = 'UnsupportedScheduleError';
}

export type Schedule =
  | { readonly kind: 'rate'; readonly periodMs: number }
  | { readonly kind: 'cron'; readonly next: (afterMs: number) => number | undefined };

const RATE = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * @example
 * parseSchedule('rate(5 minutes)'); // { kind: 'rate', periodMs: 300000 }
 * parseSchedule('cron(0/15 8-17 ? * MON-FRI *)').next(Date.now());
 */
export function parseSchedule(expression: string): Schedule {
  const rate = RATE.exec(expression.trim());
  if (rate) {
    const value = Number(rate[1]);
    const unit = (rate[2] as string).replace(/s$/, '');
    if (value < 1) throw new InvalidScheduleError('Parameter ScheduleExpression is not valid.');
    if ((value === 1) !== !(rate[2] as string).endsWith('s')) {
      throw new InvalidScheduleError(
        `Parameter ScheduleExpression is not valid: use "${unit}" for 1 and "${unit}s" otherwise.`,
      );
    }
    return { kind: 'rate', periodMs: value * (UNIT_MS[unit] as number) };
  }
  const cron = /^cron\((.*)\)$/.exec(expression.trim());
  if (!cron) throw new InvalidScheduleError('Parameter ScheduleExpression is not valid.');
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new InvalidScheduleError('Parameter ScheduleExpression is not valid: cron needs 6 fields.');
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (/[LW#]/.test(`${dayOfMonth} ${dayOfWeek}`)) {
    throw new UnsupportedScheduleError(
      `cron(${cron[1]}): L, W and # are not supported by the local runtime; the rule will not fire`,
    );
  }
  if (dayOfMonth !== '?' && dayOfWeek !== '?') {
    throw new InvalidScheduleError(
      'Parameter ScheduleExpression is not valid: one of day-of-month and day-of-week must be "?".',
    );
  }
  const sets = {
    minute: field(minutes, 0, 59),
    hour: field(hours, 0, 23),
    dayOfMonth: field(dayOfMonth, 1, 31),
    month: field(month, 1, 12, MONTHS),
    dayOfWeek: field(dayOfWeek, 1, 7, DAYS),
    year: field(year, 1970, 2199),
  };
  return {
    kind: 'cron',
    next(afterMs) {
      // Minute by minute over at most ~5 years: ample for any schedule that ever fires.
      let time = Math.floor(afterMs / 60_000) * 60_000 + 60_000;
      for (let step = 0; step < 5 * 366 * 24 * 60; step += 1, time += 60_000) {
        const date = new Date(time);
        if (
          sets.minute(date.getUTCMinutes()) &&
          sets.hour(date.getUTCHours()) &&
          sets.dayOfMonth(date.getUTCDate()) &&
          sets.month(date.getUTCMonth() + 1) &&
          sets.dayOfWeek(date.getUTCDay() + 1) &&
          sets.year(date.getUTCFullYear())
        ) {
          return time;
        }
      }
      return undefined;
    },
  };
}

function field(
  text: string,
  min: number,
  max: number,
  names?: readonly string[],
): (value: number) => boolean {
  if (text === '*' || text === '?') return () => true;
  const allowed = new Set<number>();
  const number = (token: string): number => {
    const index = names?.indexOf(token.toUpperCase()) ?? -1;
    const value = index >= 0 ? index + 1 : Number(token);
    if (!/^\w+$/.test(token) || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidScheduleError(
        `Parameter ScheduleExpression is not valid: "${token}" in cron field "${text}".`,
      );
    }
    return value;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : number(stepText);
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = number(a);
      to = number(b);
    } else {
      from = number(range);
      to = stepText === undefined ? from : max;
    }
    for (let value = from; value <= to; value += step) allowed.add(value);
  }
  return (value) => allowed.has(value);
}
