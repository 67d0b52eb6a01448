import pino from 'pino';
import { Writable } from 'node:stream';
import { PinoAppLogger } from './app-logger';

describe('PinoAppLogger (Nest logger calls as pino JSON lines)', () => {
  const capture = () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    return { logger: new PinoAppLogger(pino({ level: 'trace' }, stream)), lines };
  };

  it('puts the last string argument in `context`, and an error stack in `stack`', () => {
    const { logger, lines } = capture();
    logger.log('ready', 'Bootstrap');
    logger.error('failed', 'Error: boom\n    at x (y.js:1:1)', 'ClaimsService');
    expect(lines[0]).toMatchObject({ level: 30, msg: 'ready', context: 'Bootstrap' });
    expect(lines[1]).toMatchObject({ level: 50, msg: 'failed', context: 'ClaimsService', stack: expect.stringContaining('at x') });
  });

  it('an error logged with a stack and no context does not file the stack as the context', () => {
    const { logger, lines } = capture();
    logger.error('failed', 'Error: boom\n    at x (y.js:1:1)');
    expect(lines[0].context).toBeUndefined();
    expect(lines[0].stack).toContain('at x');
  });

  it('verbose is pino trace; levels below the logger level are not written', () => {
    const { logger, lines } = capture();
    logger.verbose('detail', 'Ctx');
    expect(lines[0]).toMatchObject({ level: 10, msg: 'detail' });
    const quiet = new PinoAppLogger(
      pino({ level: 'warn' }, new Writable({ write: (_c, _e, done) => (lines.push({ unexpected: true }), done()) })),
    );
    quiet.log('not written', 'Ctx');
    expect(lines).toHaveLength(1);
  });
});
