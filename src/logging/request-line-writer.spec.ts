import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../config/config.loader';
import { RequestLineCore, RequestLineWriter } from './request-line-writer';
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
  const liveness: RequestLineCore = {
    request_id: 'c0a8f3f2-1b2c-4d5e-8f90-123456789abc',
    trace_id: undefined,
    method: 'GET',
    route: '/api/healthcheck/live',
    path: '/api/healthcheck/live',
    status: 200,
    duration_ms: 0,
  };
  const lines: [string, RequestLineCore, Record<string, unknown> | undefined][] = [
    ['the core fields of a liveness probe', liveness, undefined],
    [
      'a path a client made hostile, a trace, and a claim handler s fields',
      {
        request_id: 'a.b:c-d',
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        method: 'POST',
        route: '/api/coupons/:name',
        path: '/api/"quoted"\\back\nline\u0001\u2028é😀',
        status: 404,
        duration_ms: 12,
      },
      {
        coupon: 'SALE "50"',
        outcome: 'SOLD_OUT',
        shed: true,
        lock_wait_ms: Number.NaN,
        nothing: null,
        skipped: () => undefined,
        'odd "key"': 1,
      },
    ],
    ['added fields never replace a core field', liveness, { status: 500, route: 'forged', coupon: 'SALE' }],
  ];

  /** What the hook used to hand pino: the core fields, then the added ones that do not clash. */
  const asObject = (core: RequestLineCore, added: Record<string, unknown> | undefined) => {
    const line: Record<string, unknown> = { ...core };
    for (const [key, value] of Object.entries(added ?? {})) if (!(key in core)) line[key] = value;
    return line;
  };

  it.each(lines)('writes what pino writes: %s', (_name, core, added) => {
    const { stream, writes } = capture();
    const writer = new RequestLineWriter(createRootLogger(production, stream));
    for (const level of ['info', 'warn', 'error'] as const) {
      for (const message of ['request completed', 'request failed'] as const) {
        writer.write(level, core, added, message);
        const written = writes.at(-1)!;
        const expected = pinoText(level, asObject(core, added), message);
        expect(written.endsWith('}\n')).toBe(true);
        expect(withoutTime(written)).toEqual(withoutTime(expected));
        // The same fields in the same order: a log pipeline that reads lines as text sees no change.
        expect(Object.keys(JSON.parse(written) as object)).toEqual(Object.keys(JSON.parse(expected) as object));
      }
    }
  });

  it("writes each request its own route fields, though a route's fields are built once", () => {
    const { stream, writes } = capture();
    const writer = new RequestLineWriter(createRootLogger(production, stream));
    const requests: RequestLineCore[] = [
      liveness,
      { ...liveness, method: 'HEAD' },
      { ...liveness, route: '/api/coupons', path: '/api/coupons' },
      { ...liveness, route: '/api/coupons/:name', path: '/api/coupons/SALE' },
      { ...liveness, route: '/api/coupons/:name', path: '/api/coupons/OTHER' },
    ];
    // Twice over: the second pass reads what the first one built.
    for (const core of [...requests, ...requests]) {
      writer.write('info', core, undefined, 'request completed');
      expect(withoutTime(writes.at(-1)!)).toEqual(withoutTime(pinoText('info', { ...core }, 'request completed')));
    }
  });

  it('leaves any other logger to pino (a mixin, say): its lines are never second-guessed', () => {
    const other = capture();
    const mixed = pino({ level: 'info', mixin: () => ({ span_id: 'abc' }) }, other.stream);
    new RequestLineWriter(mixed).write('info', { ...liveness, status: 201 }, { coupon: 'SALE', status: 500 }, 'request completed');
    expect(JSON.parse(other.writes[0]) as object).toMatchObject({ status: 201, coupon: 'SALE', span_id: 'abc', msg: 'request completed' });
  });

  it('honours the logger level', () => {
    const { stream } = capture();
    const writer = new RequestLineWriter(createRootLogger(loadConfig({}, { LOG_LEVEL: 'warn' }), stream));
    expect(writer.isLevelEnabled('info')).toBe(false);
    expect(writer.isLevelEnabled('warn')).toBe(true);
  });
});
