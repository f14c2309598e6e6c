import { HindsightError } from '../errors.ts';
import { FORMAT_VERSION, decodeHeader, headerLength, withWrappedKey, wrapContextOf } from './backup-header.ts';
import type { KeyUnwrapper, KeyWrapper } from './wrap/types.ts';

/**
 * A version 3 header with its data key unwrapped by `unwrapper` and wrapped again by `wrapper`
 * (a rotation to a new key-encryption key). The bound part — magic, chunk size, identity — stays
 * byte for byte, so every chunk after it still authenticates: the data is never read or rewritten.
 */
export async function rewrapHeader(header: Buffer, unwrapper: KeyUnwrapper, wrapper: KeyWrapper): Promise<Buffer> {
  const length = headerLength(header);
  if (length === undefined || length !== header.length)
    throw new HindsightError('bad_input', 'rewrapHeader takes exactly one whole header');
  const decoded = decodeHeader(header);
  if (decoded.version !== FORMAT_VERSION) {
    throw new HindsightError(
      'bad_input',
      `the object is in format version ${decoded.version}, which has no wrapped data key to rewrap: re-encrypt it instead (hindsight key rotate --reencrypt)`,
    );
  }
  const context = wrapContextOf(decoded.identity!);
  const dataKey = await unwrapper.unwrap(decoded.wrappedKey!, context);
  return withWrappedKey(header, await wrapper.wrap(dataKey, context));
}
