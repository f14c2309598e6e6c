/**
 * The grammar of a schedule's five cron fields, checked here rather than by cron-parser alone:
 * Temporal's schedules read the same line with their own parser, which takes less (no L, W, ?, H)
 * and reads `#` as the start of a comment, so everything we accept must mean the same to both.
 * Each refusal names the field, the value and the range allowed.
 */

interface FieldRule {
  name: string;
  min: number;
  max: number;
  /** Names accepted for values, the first standing for `min` (jan = 1, sun = 0). */
  names?: readonly string[];
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MONTH_TITLES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
/** The longest each month can be (February in a leap year). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** minute hour day-of-month month day-of-week; day-of-week 7 is Sunday, as in Vixie cron and Temporal. */
const FIELD_RULES: readonly FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
];

export const FIELD_HELP = 'five fields (minute hour day-of-month month day-of-week)';

/** A field as written and the values it selects. */
export interface CronField {
  text: string;
  values: ReadonlySet<number>;
  /** Every value of the field's range is selected (`*`, or the whole range spelled out). */
  all: boolean;
}

export interface CronFields {
  minute: CronField;
  hour: CronField;
  dayOfMonth: CronField;
  month: CronField;
  /** Sunday is 0 here, whether written 0, 7 or sun. */
  dayOfWeek: CronField;
}

/** A refusal of the expression, its message ready for the user. */
export class CronSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronSyntaxError';
  }
}

const ITEM = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/([0-9]+))?$/i;
/** Quartz and Jenkins extensions: 1#2, ?, L, 15W, 5L, H. */
const UNSUPPORTED = /[#?]|^(h|l|lw|\d+[lw])(\W|$)/i;
const NOT_TEMPORAL = " (L, W, #, ? and H are not part of Temporal's cron syntax)";

function rangeText(rule: FieldRule): string {
  const names = rule.names ? ` or ${rule.names[0]}–${rule.names[rule.names.length - 1]}` : '';
  return `${rule.min}–${rule.max}${names}`;
}

function valueOf(token: string, rule: FieldRule, expr: string): number {
  if (/^[0-9]+$/.test(token)) {
    const n = Number(token);
    if (n < rule.min || n > rule.max)
      throw new CronSyntaxError(`${rule.name} ${n} is out of range ${rangeText(rule)} in '${expr}'`);
    return n;
  }
  const index = rule.names?.indexOf(token.toLowerCase()) ?? -1;
  if (index < 0) {
    const hint = UNSUPPORTED.test(token) ? NOT_TEMPORAL : `: use ${rangeText(rule)}`;
    throw new CronSyntaxError(`${rule.name} '${token}' is not a value in '${expr}'${hint}`);
  }
  return rule.min + index;
}

function itemValues(item: string, rule: FieldRule, expr: string): number[] {
  const match = ITEM.exec(item);
  if (!match) {
    const why = UNSUPPORTED.test(item)
      ? NOT_TEMPORAL
      : `: use a value, a range a-b, a list a,b or a step */n, within ${rangeText(rule)}`;
    throw new CronSyntaxError(`${rule.name} '${item}' is not understood in '${expr}'${why}`);
  }
  const [, star, from, to, step] = match;
  const start = star ? rule.min : valueOf(from!, rule, expr);
  // `5/15` runs from 5 to the end of the range, as in Vixie cron and Temporal.
  const end = star || (step !== undefined && to === undefined) ? rule.max : to ? valueOf(to, rule, expr) : start;
  if (end < start)
    throw new CronSyntaxError(`${rule.name} range ${item} runs backwards in '${expr}': write the smaller value first`);
  const every = step === undefined ? 1 : Number(step);
  if (every < 1) throw new CronSyntaxError(`${rule.name} step ${item} in '${expr}' must be at least 1`);
  const values: number[] = [];
  for (let v = start; v <= end; v += every) values.push(v);
  return values;
}

function parseField(text: string, rule: FieldRule, expr: string): CronField {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    for (const v of itemValues(item, rule, expr)) values.add(rule.name === 'day-of-week' ? v % 7 : v);
  }
  const span = rule.name === 'day-of-week' ? 7 : rule.max - rule.min + 1;
  return { text, values, all: values.size === span };
}

/** Splits and checks the five fields of `expr` (shorthands already expanded; `shown` is what the user wrote). */
export function parseFields(expr: string, shown: string = expr): CronFields {
  const parts = expr.split(' ');
  if (parts.length !== FIELD_RULES.length) {
    const seconds = parts.length === 6 ? ' (a sixth field for seconds or years is not supported)' : '';
    throw new CronSyntaxError(
      `'${shown}' has ${parts.length} field${parts.length === 1 ? '' : 's'}${seconds}: use ${FIELD_HELP}, e.g. '0 3 * * *', or @hourly, @daily, @weekly, @monthly, @yearly`,
    );
  }
  const [minute, hour, dayOfMonth, month, dayOfWeek] = parts.map((p, i) => parseField(p, FIELD_RULES[i]!, shown));
  return { minute: minute!, hour: hour!, dayOfMonth: dayOfMonth!, month: month!, dayOfWeek: dayOfWeek! };
}

/**
 * Why the day-of-month can never fall in any selected month (Feb 31), or null. Other schedules
 * that never fire (a weekday that no chosen date ever falls on) are found by looking for a run.
 */
export function impossibleDate(fields: CronFields): string | null {
  if (fields.dayOfMonth.all) return null;
  const firstDay = Math.min(...fields.dayOfMonth.values);
  const months = [...fields.month.values].sort((a, b) => a - b);
  if (months.some((m) => firstDay <= MONTH_DAYS[m - 1]!)) return null;
  const titles = months.map((m) => MONTH_TITLES[m - 1]).join(', ');
  const which = months.length === 1 ? `month ${months[0]}` : `months ${months.join(', ')}`;
  return `day-of-month ${fields.dayOfMonth.text} does not occur in ${which} (${titles})`;
}
