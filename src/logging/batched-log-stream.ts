import type { DestinationStream } from 'pino';

/** What the batch is written to: pino.destination's SonicBoom (ordered writes, flushSync at exit). */
export interface LogSink {
  write(text: string): boolean;
  flushSync(): void;
}

/**
 * pino's destination in production: the lines of one event-loop turn are joined and written
 * once, at the end of the turn. SonicBoom measures every string it is given (Buffer.byteLength)
 * and issues a write per call; at one request line per request that was ~4% of the CPU of a
 * constant route, now paid once per turn. Lines wait at most one turn; at exit (crash or
 * drain) what is pending is written synchronously, so nothing logged before the exit is lost.
 */
export class BatchedLogStream implements DestinationStream {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly sink: LogSink) {}

  write(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hands the pending lines to the sink as one string (in order). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.sink.write(text);
  }

  /** For process exit: no event loop left, so write everything now. */
  flushSync(): void {
    this.flush();
    this.sink.flushSync();
  }
}
