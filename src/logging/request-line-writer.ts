import pino, { DestinationStream, Logger as Pino } from 'pino';

/** The levels a request line is written at (see RequestLogHook). */
export type RequestLineLevel = 'info' | 'warn' | 'error';

/** Root loggers that write plain JSON lines to their destination: no transport, no mixin, pino's default format. */
const PLAIN_JSON_LOGGERS = new WeakSet<Pino>();

/** Marks a root logger createRootLogger built with pino's default line format and no mixin or transport. */
export function markPlainJson(logger: Pino): void {
  PLAIN_JSON_LOGGERS.add(logger);
}

/** A field's value as pino writes it, or undefined where pino leaves the field out. */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return JSON.stringify(value);
  }
}

/**
 * Writes the one-per-request line. Where the root logger writes plain JSON (production: no
 * pretty-printing transport, no tracing mixin), the line is serialised here into the JSON pino
 * would write for it (level, time, pid, hostname, the fields in order, msg: a test compares the
 * two) and handed to the same destination, skipping pino's generic serialiser, its per-field
 * serializer and stringifier lookups (measured in performance.md, "A lighter request path").
 * Anywhere else (development's pretty lines, tracing's mixin) pino writes it.
 */
export class RequestLineWriter {
  /** The destination of a plain-JSON root logger; undefined when pino must write the line. */
  private readonly destination: DestinationStream | undefined;
  /** pino's bindings of the root logger as written in every line: `,"pid":...,"hostname":"..."`. */
  private readonly bindings: string;
  private readonly levelNumbers: Record<string, number>;
  /**
   * The root logger minus pino's path redaction, which cost ~30 us a line (26k lines/s against
   * 110k+ without), about a third of the CPU of a constant route at LOG_LEVEL=info. The line is
   * built by the hook from fixed fields and the handler's flat fields, never headers or bodies;
   * safeRequestFields (request-logging.ts) keeps the redaction's promise for those fields.
   */
  private readonly logger: Pino;

  constructor(root: Pino) {
    this.logger = root.child({}, { redact: [] });
    const plain = PLAIN_JSON_LOGGERS.has(root);
    this.destination = plain ? (this.logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] : undefined;
    this.bindings = plain ? (this.logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] : '';
    this.levelNumbers = this.logger.levels.values;
  }

  isLevelEnabled(level: RequestLineLevel): boolean {
    return this.logger.isLevelEnabled(level);
  }

  write(level: RequestLineLevel, line: Record<string, unknown>, message: string): void {
    if (this.destination === undefined) {
      this.logger[level](line, message);
      return;
    }
    let text = `{"level":${this.levelNumbers[level]},"time":${Date.now()}${this.bindings}`;
    for (const key in line) {
      const value = jsonValue(line[key]);
      if (value !== undefined) text += `,${JSON.stringify(key)}:${value}`;
    }
    this.destination.write(`${text},"msg":${JSON.stringify(message)}}\n`);
  }
}
