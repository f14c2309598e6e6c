/**
 * The PITR panel's form as the actions read it: the base-backup schedule checked by the one cron
 * module (lib/schedule/cron.ts, as the browser's preview), the numbers checked for being numbers
 * (and the interval for its bounds, in seconds); the service checks again (services/pitr/input.ts).
 */
import { previewCron } from '#lib/cron-preview.ts';
import type { PitrFormSettings } from '#lib/server/view/pitr.ts';

/** What the user typed, sent back with a refusal so the form shows it again. */
export interface PitrFormValues {
  baseSchedule: string;
  slotMaxMb: string;
  partialIntervalSeconds: string;
  /** `alert` or `drop`; absent where a form does not offer it. */
  slotOverLimit?: string;
  /** `on` (the box ticked) or `off`; absent where a form does not offer it. */
  synchronous?: string;
}

export type PitrFormRead = { ok: true; settings: PitrFormSettings } | { ok: false; error: string };

const text = (form: FormData, name: string): string => {
  const value = form.get(name);
  return typeof value === 'string' ? value.trim() : '';
};

export function formValues(form: FormData): PitrFormValues {
  return {
    baseSchedule: text(form, 'baseSchedule'),
    slotMaxMb: text(form, 'slotMaxMb'),
    partialIntervalSeconds: text(form, 'partialIntervalSeconds'),
    // An unticked box posts nothing: the policy's select, always posted, says the form offered it.
    ...(form.has('slotOverLimit')
      ? { slotOverLimit: text(form, 'slotOverLimit'), synchronous: text(form, 'synchronous') === 'on' ? 'on' : 'off' }
      : {}),
  };
}

/** The settings the form asks for, or the first thing wrong with it, naming the field. */
export function readPitrForm(values: PitrFormValues, timezone: string): PitrFormRead {
  if (values.baseSchedule !== '') {
    const preview = previewCron(values.baseSchedule, timezone);
    if (!preview.ok) return { ok: false, error: `Base-backup schedule: ${preview.error}` };
  }
  if (values.slotMaxMb !== '' && !/^\d+$/.test(values.slotMaxMb))
    return { ok: false, error: `Slot limit: "${values.slotMaxMb}" is not a whole number of MB (empty: no limit)` };
  const seconds = Number(values.partialIntervalSeconds);
  // The catalog's bounds (pitr_partial_interval_ms between 100 and 3600000), said in the form's unit.
  if (values.partialIntervalSeconds === '' || !Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600)
    return {
      ok: false,
      error: `Partial shipping interval: "${values.partialIntervalSeconds}" must be a number of seconds from 0.1 to 3600 (e.g. 1 or 0.5)`,
    };
  const policy = values.slotOverLimit;
  if (policy !== undefined && policy !== 'alert' && policy !== 'drop')
    return { ok: false, error: `Over the slot limit: "${policy}" must be alert or drop` };
  return {
    ok: true,
    settings: {
      baseSchedule: values.baseSchedule === '' ? null : values.baseSchedule,
      slotMaxMb: values.slotMaxMb === '' ? null : Number(values.slotMaxMb),
      partialIntervalMs: Math.round(seconds * 1000),
      ...(policy !== undefined ? { slotOverLimit: policy } : {}),
      ...(values.synchronous !== undefined ? { synchronous: values.synchronous === 'on' } : {}),
    },
  };
}
