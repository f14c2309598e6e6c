/**
 * One setting of a form that a table describes (a storage's or a notifier's settings): the input's
 * kind and what it needs. Secrets are write-only: their inputs never show a stored value.
 */
export interface Setting {
  /** The setting's key; the input's name is the group's prefix and this, e.g. `s3_bucket`. */
  name: string;
  label: string;
  kind?: 'text' | 'number' | 'secret' | 'checkbox' | 'textarea' | 'secret-textarea' | 'select';
  options?: readonly string[];
  placeholder?: string;
  /** What the input starts with when nothing was typed or stored. */
  initial?: string;
  autocomplete?: 'off';
  min?: number;
  max?: number;
  rows?: number;
  /** Shown but not changeable (the reason goes in the label or a note beside the group). */
  readonly?: boolean;
  /** The server's refusal that names this setting, shown beside its input. */
  error?: string;
}

// One constructor a kind, so that a table of settings reads as a list of labelled inputs.
export const text = (name: string, label: string, placeholder?: string): Setting => ({ name, label, placeholder });
export const number = (name: string, label: string, placeholder?: string): Setting => ({
  name,
  label,
  kind: 'number',
  placeholder,
});
export const secret = (name: string, label: string): Setting => ({ name, label, kind: 'secret' });
export const checkbox = (name: string, label: string): Setting => ({ name, label, kind: 'checkbox' });
export const select = (name: string, label: string, options: readonly string[]): Setting => ({
  name,
  label,
  kind: 'select',
  options,
});
/** A multi-line input; a secret one never shows what is stored. */
export const textarea = (name: string, label: string, secret = false): Setting => ({
  name,
  label,
  kind: secret ? 'secret-textarea' : 'textarea',
});
