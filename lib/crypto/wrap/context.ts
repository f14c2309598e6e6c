import type { WrapContext } from './types.ts';

/**
 * The context as bytes, for kinds that bind it as AEAD associated data: each entry, sorted by
 * name, as name ‖ 0x00 ‖ value ‖ 0x00 (UTF-8). Names and values never hold a zero byte (they are
 * identity JSON and fixed labels), so the encoding is unambiguous.
 */
export function contextBytes(context: WrapContext): Buffer {
  const names = Object.keys(context).sort();
  return Buffer.concat(names.flatMap((name) => [Buffer.from(`${name}\0${context[name]}\0`, 'utf8')]));
}
