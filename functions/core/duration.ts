/**
 * ISO-8601 durations in exact units (W, D, H, M, S) to and from milliseconds.
 * The wire schema (`IsoDuration`) has already refused years and months.
 */
const PATTERN = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Parses an ISO-8601 duration into milliseconds.
 * @example parseDuration('PT1M30S') // 90000
 * @throws RangeError on anything but W, D, H, M and S units.
 */
export function parseDuration(text: string): number {
  const m = PATTERN.exec(text);
  if (!m) throw new RangeError(`not an ISO-8601 duration in exact units: ${JSON.stringify(text)}`);
  const [, w, d, h, min, s] = m;
  return Math.round(
    Number(w ?? 0) * 7 * DAY +
      Number(d ?? 0) * DAY +
      Number(h ?? 0) * HOUR +
      Number(min ?? 0) * MINUTE +
      Number(s ?? 0) * SECOND,
  );
}

/**
 * Formats milliseconds as an ISO-8601 duration, largest units first, with
 * millisecond precision kept in the seconds field.
 * @example formatDuration(90_500) // 'PT1M30.5S'
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`duration must be a finite ms count >= 0: ${ms}`);
  let rest = Math.round(ms);
  const days = Math.floor(rest / DAY);
  rest -= days * DAY;
  const hours = Math.floor(rest / HOUR);
  rest -= hours * HOUR;
  const minutes = Math.floor(rest / MINUTE);
  rest -= minutes * MINUTE;
  const seconds = rest / SECOND;
  const date = days > 0 ? `${days}D` : '';
  const time = `${hours > 0 ? `${hours}H` : ''}${minutes > 0 ? `${minutes}M` : ''}${seconds > 0 ? `${seconds}S` : ''}`;
  if (!date && !time) return 'PT0S';
  return `P${date}${time ? `T${time}` : ''}`;
}
