/** Reading a submitted form's fields: no SvelteKit types, so plain modules (and their unit tests) can use it. */

/** A form field as text ('' when absent or a file): actions validate it further in the services. */
export function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}

/** Every checked box of a name. */
export function fields(form: FormData, name: string): string[] {
  return form.getAll(name).filter((v): v is string => typeof v === 'string' && v !== '');
}
