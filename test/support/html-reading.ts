/** Reading rendered console pages in tests without a DOM. */

/** The attribute values of every element carrying `attr`, in document order. */
export const attributeValues = (html: string, attr: string) =>
  [...html.matchAll(new RegExp(`${attr}="([^"]+)"`, 'g'))].map((m) => m[1]!);
export const countOf = (html: string, needle: string) => html.split(needle).length - 1;
/** The rendered markup alone: the page data SvelteKit serializes for hydration would count everything twice. */
export const markup = (html: string) => html.replace(/<script[\s\S]*?<\/script>/g, '');
