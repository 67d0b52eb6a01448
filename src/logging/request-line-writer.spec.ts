import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../config/config.loader';
import { RequestLineWriter } from './request-line-writer';
import { createRootLogger } from './request-logging';

/** A destination that keeps every string it is given. */
function capture() {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      writes.push(String(chunk));
      done();
    },
  });
  return { stream, writes };
}

const production = loadConfig({}, { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'info' });

/** What pino itself writes for the same line (same process: same pid and hostname bindings). */
function pinoText(level: 'info' | 'warn' | 'error', line: Record<string, unknown>, message: string): string {
  const { stream, writes } = capture();
  pino({ level: 'info' }, stream)[level](line, message);
  return writes[0];
}

const withoutTime = (text: string) => ({ ...(JSON.parse(text) as Record<string, unknown>), time: 0 });

describe('RequestLineWriter (the request line written by hand where pino would write plain JSON)', () => {
  const lines: [string, Record<string, unknown>][] = [
    [
      'the core fields of a liveness probe',
      {
        request_id: 'c0a8f3f2-1b2c-4d5e-8f90-123456789abc',
        trace_id: undefined,
        method: 'GET',
        route: '/api/healthcheck/live',
        path: '/api/healthcheck/live',
        status: 200,
        duration_ms: 0,
      },
    ],
    [
      'a path a client made hostile, and a claim handler s fields',
      {
        request_id: 'a.b:c-d',
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        method: 'POST',
        route: 'unmatched',
        path: '/api/"quoted"\\back\nline\u0001\u2028é😀',
        status: 404,
        duration_ms: 12,
        coupon: 'SALE "50"',
        outcome: 'SOLD_OUT',
        shed: true,
        lock_wait_ms: Number.NaN,
        nothing: null,
        skipped: () => undefined,
      },
    ],
  ];

  it.each(lines)('writes what pino writes: %s', (_name, line) => {
    const { stream, writes } = capture();
    const root = createRootLogger(production, stream);
    const writer = new RequestLineWriter(root);
    for (const level of ['info', 'warn', 'error'] as const) {
      writer.write(level, line, 'request completed');
      const written = writes.at(-1)!;
      expect(written.endsWith('}\n')).toBe(true);
      expect(withoutTime(written)).toEqual(withoutTime(pinoText(level, line, 'request completed')));
      // The same fields in the same order: a log pipeline that reads lines as text sees no change.
      expect(Object.keys(JSON.parse(written) as object)).toEqual(
        Object.keys(JSON.parse(pinoText(level, line, 'request completed')) as object),
      );
    }
  });

  it('leaves any other logger to pino (a mixin, say): its lines are never second-guessed', () => {
    const other = capture();
    const mixed = pino({ level: 'info', mixin: () => ({ span_id: 'abc' }) }, other.stream);
    new RequestLineWriter(mixed).write('info', { status: 200 }, 'request completed');
    expect(JSON.parse(other.writes[0]) as object).toMatchObject({ status: 200, span_id: 'abc', msg: 'request completed' });
  });

  it('honours the logger level', () => {
    const { stream } = capture();
    const writer = new RequestLineWriter(createRootLogger(loadConfig({}, { LOG_LEVEL: 'warn' }), stream));
    expect(writer.isLevelEnabled('info')).toBe(false);
    expect(writer.isLevelEnabled('warn')).toBe(true);
  });
});
