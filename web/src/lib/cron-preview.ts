/**
 * The console's view of a schedule: the page's server load, the form action and the browser's
 * live preview all read it through lib/schedule/cron.ts, the rule every other entry point checks
 * with, so what the form shows before saving is what the page shows after.
 */
export { formatInZone, previewCron, type CronPreview, type CronRun } from '../../../lib/schedule/cron.ts';
export { spreadSecond } from '../../../lib/schedule/spread.ts';
