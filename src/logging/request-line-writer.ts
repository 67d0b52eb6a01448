import pino, { DestinationStream, Logger as Pino } from 'pino';

/** The levels a request line is written at (see RequestLogHook). */
export type RequestLineLevel = 'info' | 'warn' | 'error';
/** The request line's messages: fixed, so written without escaping. */
export type RequestLineMessage = 'request completed' | 'request failed';

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

/** The fields every request line has, in the order they are written. */
export interface RequestLineCore {
  request_id: string;
  trace_id: string | undefined;
  method: string;
  route: string;
  path: string;
  status: number;
  duration_ms: number;
}

/** What ends a line, after the handler's fields: the message (fixed, so not escaped). */
const LINE_ENDS: Record<RequestLineMessage, string> = {
  'request completed': ',"msg":"request completed"}\n',
  'request failed': ',"msg":"request failed"}\n',
};

/** `,"method":...,"route":...,"path":...` as pino writes them (the method needs no escaping: an HTTP token). */
function routeAndPath(method: string, route: string, path: string): string {
  const quotedRoute = JSON.stringify(route);
  return `,"method":"${method}","route":${quotedRoute},"path":${path === route ? quotedRoute : JSON.stringify(path)}`;
}

const CORE_FIELDS = new Set<string>(['request_id', 'trace_id', 'method', 'route', 'path', 'status', 'duration_ms']);

/**
 * Writes the one-per-request line. Where the root logger writes plain JSON (production: no
 * pretty-printing transport, no tracing mixin), the line is serialised here into the JSON pino
 * would write for it (level, time, pid, hostname, the fields in order, msg: a test compares the
 * two) and handed to the same destination: no line object, no generic serialiser, no per-field
 * serializer and stringifier lookups (measured in performance.md, "A lighter request path").
 * Anywhere else (development's pretty lines, tracing's mixin) pino writes it.
 */
export class RequestLineWriter {
  /** The destination of a plain-JSON root logger; undefined when pino must write the line. */
  private readonly destination: DestinationStream | undefined;
  /** `{"level":N,"time":` per level. */
  private readonly linePrefix: Record<RequestLineLevel, string>;
  /** pino's bindings, then the opening of request_id. */
  private readonly beforeRequestId: string;
  private readonly routeFieldsCache = new Map<string, Map<string, string>>();
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
    // pino's bindings of the root logger as written in every line: `,"pid":...,"hostname":"..."`.
    const bindings = plain ? (this.logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] : '';
    const levels = this.logger.levels.values;
    this.linePrefix = {
      info: `{"level":${levels.info},"time":`,
      warn: `{"level":${levels.warn},"time":`,
      error: `{"level":${levels.error},"time":`,
    };
    this.beforeRequestId = `${bindings},"request_id":"`;
  }

  isLevelEnabled(level: RequestLineLevel): boolean {
    return this.logger.isLevelEnabled(level);
  }

  /** The core fields, then the handler's `added` fields (never replacing a core field), then `message`. */
  write(level: RequestLineLevel, core: RequestLineCore, added: Record<string, unknown> | undefined, message: RequestLineMessage): void {
    if (this.destination === undefined) {
      const line: Record<string, unknown> = { ...core };
      if (added !== undefined) for (const key in added) if (!CORE_FIELDS.has(key)) line[key] = added[key];
      this.logger[level](line, message);
      return;
    }
    // request_id is a UUID or a caller's id of [A-Za-z0-9._:-] (requestIdOf), trace_id is hex and
    // the method an HTTP token: none needs escaping. Route and path go through JSON.stringify.
    let text =
      this.linePrefix[level] +
      Date.now() +
      this.beforeRequestId +
      core.request_id +
      (core.trace_id === undefined ? '"' : `","trace_id":"${core.trace_id}"`) +
      (core.path === core.route ? this.routeFields(core.method, core.route) : routeAndPath(core.method, core.route, core.path)) +
      ',"status":' +
      core.status +
      ',"duration_ms":' +
      core.duration_ms;
    if (added !== undefined) {
      for (const key in added) {
        const value = CORE_FIELDS.has(key) ? undefined : jsonValue(added[key]);
        if (value !== undefined) text += `,${JSON.stringify(key)}:${value}`;
      }
    }
    this.destination.write(text + LINE_ENDS[message]);
  }

  /**
   * `,"method":...,"route":...,"path":...` of a request whose path is its route's pattern (no
   * parameters): the same few strings for every request of a route, built once. Bounded by the
   * app's routes (route patterns, and 'unmatched' for every URL no route matches).
   */
  private routeFields(method: string, route: string): string {
    let byMethod = this.routeFieldsCache.get(route);
    if (byMethod === undefined) this.routeFieldsCache.set(route, (byMethod = new Map<string, string>()));
    let fields = byMethod.get(method);
    if (fields === undefined) byMethod.set(method, (fields = routeAndPath(method, route, route)));
    return fields;
  }
}
