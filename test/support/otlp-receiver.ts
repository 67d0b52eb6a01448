import { IncomingMessage, Server, createServer } from 'node:http';
import { sleep } from './test-app';

/** The service sends its spans at least every second (EXPORT_DELAY_MS); give a loaded machine more. */
const SPANS_WITHIN_MS = 15_000;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links: { traceId: string; spanId: string }[];
  attributes: Record<string, unknown>;
}

/** OTLP/JSON ids are hex; accept base64 too (what protobuf-JSON mappers write). */
const hexId = (id: string | undefined): string | undefined =>
  id === undefined || id === '' ? undefined : /^[\da-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex');

/**
 * A real OTLP/HTTP receiver on a loopback port: it accepts what the exporter POSTs to
 * /v1/traces (JSON), answers as a collector does, and keeps every span it parsed.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  posts = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver!: OtlpReceiver;
    const server = createServer(
      (req, res) => void receiver.accept(req).then((status) => res.writeHead(status, { 'content-type': 'application/json' }).end('{}')),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`);
    return receiver;
  }

  private async accept(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) return 415;
    this.posts++;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const resource of body.resourceSpans ?? []) {
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: hexId(span.traceId)!,
            spanId: hexId(span.spanId)!,
            parentSpanId: hexId(span.parentSpanId),
            name: span.name,
            kind: span.kind,
            links: (span.links ?? []).map((link: { traceId: string; spanId: string }) => ({
              traceId: hexId(link.traceId)!,
              spanId: hexId(link.spanId)!,
            })),
            attributes: Object.fromEntries(
              (span.attributes ?? []).map((a: { key: string; value: Record<string, unknown> }) => [a.key, Object.values(a.value)[0]]),
            ),
          });
        }
      }
    }
    return 200;
  }

  async spansOf(traceId: string, until: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + SPANS_WITHIN_MS;
    for (;;) {
      const spans = this.spans.filter((span) => span.traceId === traceId);
      if (until(spans) || Date.now() > deadline) return spans;
      await sleep(100);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
