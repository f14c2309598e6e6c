/** The message of the innermost cause: the words a failure started with, under every wrapper. */
export function innermostMessage(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  let message = '';
  while (current) {
    message = current.message ?? message;
    current = current.cause as typeof current;
  }
  return message;
}
