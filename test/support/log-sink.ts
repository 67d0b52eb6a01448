import { Writable } from 'node:stream';

/**
 * Collects the service's log lines. nestjs-pino keeps one root logger per process (per jest
 * test file), so a test that reads logs must boot the first app of its file with this sink.
 */
export function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}
