import {
  ApplicationFailure,
  DefaultFailureConverter,
  type PayloadConverter,
  type ProtoFailure,
  type SerializationContext,
} from '@temporalio/common';

/**
 * Loaded by path (DataConverter.failureConverterPath) into the workflow bundle as well as into
 * workers and clients, so it imports nothing but @temporalio/common.
 */

/** The failure type of a payload the codec refused because it is not encrypted (temporal/codec.ts). */
export const PLAINTEXT_REFUSED = 'PlaintextPayloadRefused';

const readable = new DefaultFailureConverter({ encodeCommonAttributes: false });

/**
 * Failure messages and stack traces go into history encoded (a payload, which the codec encrypts):
 * they name hosts, paths, databases and what pg_restore printed. The one exception is the refusal
 * of a plaintext payload: it is a fixed sentence that holds nothing of the payload, and whoever
 * started that run has no key, so only a readable refusal tells them what to do.
 */
class HindsightFailureConverter extends DefaultFailureConverter {
  override errorToFailure(
    err: unknown,
    payloadConverter: PayloadConverter,
    context?: SerializationContext,
  ): ProtoFailure {
    if (err instanceof ApplicationFailure && err.type === PLAINTEXT_REFUSED && !err.cause)
      return readable.errorToFailure(err, payloadConverter, context);
    return super.errorToFailure(err, payloadConverter, context);
  }
}

export const failureConverter = new HindsightFailureConverter({ encodeCommonAttributes: true });
