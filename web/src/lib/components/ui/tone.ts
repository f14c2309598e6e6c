/** The colour families of app.css (--ok-fg/--ok-bg, …) that badges and notices use. */
export type Tone = 'ok' | 'run' | 'warn' | 'bad' | 'off';

const VERIFICATION_TONE: Record<string, Tone> = {
  successful: 'ok',
  failed: 'bad',
  running: 'run',
  pending: 'run',
  cancelled: 'off',
  superseded: 'off',
  skipped: 'warn',
};

/** The tone of a verification status; an unknown status reads as neutral. */
export function verificationTone(status: string): Tone {
  return VERIFICATION_TONE[status] ?? 'off';
}
