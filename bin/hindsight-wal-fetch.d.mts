export const EXIT_NOT_FOUND: 1;
export const EXIT_FAILED: 250;
export function fetchThroughSocket(socketPath: string, file: string, destination: string): Promise<'ok' | 'not_found'>;
export function main(argv: string[]): Promise<number>;
