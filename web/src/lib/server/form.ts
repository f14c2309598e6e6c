/** A form field as text ('' when absent or a file): actions validate it further in the services. */
export function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}

/** Every checked box of a name. */
export function fields(form: FormData, name: string): string[] {
  return form.getAll(name).filter((v): v is string => typeof v === 'string' && v !== '');
}

/** The HTTP status an error of the service layer maps to. */
export function statusFor(err: unknown): 400 | 403 | 404 | 409 | 502 {
  const kind = (err as { kind?: string }).kind;
  return kind === 'forbidden'
    ? 403
    : kind === 'not_found'
      ? 404
      : kind === 'conflict'
        ? 409
        : kind === 'unreachable'
          ? 502
          : 400;
}
