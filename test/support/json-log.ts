import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** An info-level pino logger whose every line is parsed and pushed onto `lines`, to check what was logged. */
export function jsonLinesLogger(lines: Array<Record<string, unknown>>): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}
