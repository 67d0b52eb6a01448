import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../src/config/config.loader';
import { EVENT_TYPES, OutboxRow, eventBody } from '../src/events/event-types';
import { TestApp, makeUsers, startAppWithUser } from './support/test-app';

const DOCUMENT = join(projectRoot(), 'documentation', 'asyncapi.yaml');
const text = readFileSync(DOCUMENT, 'utf8');
const raw = parse(text);

/** Error-level diagnostics (severity 0) of the AsyncAPI parser: the document is invalid. */
const ERROR = 0;

describe('documentation/asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3 document (the AsyncAPI parser reports no error)', async () => {
    const { document, diagnostics } = await new Parser().parse(text, { source: DOCUMENT });
    expect(diagnostics.filter((d) => d.severity === ERROR).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document?.version()).toMatch(/^3\./);
    const channel = document!.channels().all()[0];
    expect(channel.address()).toBe(JSON.parse(readFileSync(join(projectRoot(), 'env.example.json'), 'utf8')).EVENTS_EXCHANGE);
    expect(
      channel
        .messages()
        .all()
        .map((m) => m.name())
        .sort(),
    ).toEqual([...EVENT_TYPES].sort());
  });

  it('breaks on a broken document (the test can fail)', async () => {
    const broken = text.replace('action: send', 'action: shout');
    const { diagnostics } = await new Parser().parse(broken);
    expect(diagnostics.filter((d) => d.severity === ERROR).length).toBeGreaterThan(0);
  });

  describe('describes the bodies the relay builds from real outbox rows', () => {
    let t: TestApp, admin: string;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    beforeAll(async () => ({ t, admin } = await startAppWithUser('asyncapiuser', { EVENTS_URL: 'amqp://guest:guest@127.0.0.1:1' })));
    afterAll(() => t.close());

    it('every type of event matches its message schema, with no undocumented field', async () => {
      await t.api.createCoupon(admin, 'DOCUMENTED', 1);
      expect((await t.api.patch('/api/coupons/DOCUMENTED', { amount: 2, ends_at: '2031-01-01T00:00:00Z' }, { token: admin })).status).toBe(
        200,
      );
      for (const buyer of await makeUsers(t.api, 'documented_', 2)) expect((await t.api.claim(buyer.token, 'DOCUMENTED')).status).toBe(200);
      expect((await t.api.post('/api/coupons/DOCUMENTED/close', undefined, { token: admin })).status).toBe(200);
      const rows: OutboxRow[] = await t.sql(
        `SELECT id, event_id, event_type, coupon_name, payload, occurred_at, attempts FROM outbox_events ORDER BY id`,
      );
      expect(new Set(rows.map((r) => r.event_type))).toEqual(new Set(EVENT_TYPES));
      const messages = raw.components.messages as Record<string, { name: string; payload: { $ref: string } }>;
      for (const row of rows) {
        const message = Object.values(messages).find((m) => m.name === row.event_type)!;
        const schema = closed(resolve(message.payload, raw));
        const body = eventBody(row);
        const valid = ajv.validate(schema, body);
        expect({ type: row.event_type, body, errors: valid ? null : ajv.errorsText() }).toEqual({
          type: row.event_type,
          body,
          errors: null,
        });
      }
    });
  });
});

type Schema = Record<string, any>;

function resolve(schema: Schema, doc: Schema): Schema {
  if (Array.isArray(schema)) return schema.map((s) => resolve(s, doc));
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref)
    return resolve(
      schema.$ref
        .slice(2)
        .split('/')
        .reduce((node: Schema, key: string) => node[key], doc),
      doc,
    );
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolve(v as Schema, doc)]));
}

/** allOf merged into one object schema that forbids fields it does not name. */
function closed(schema: Schema): Schema {
  const parts: Schema[] = schema.allOf ?? [schema];
  return {
    type: 'object',
    required: parts.flatMap((p) => p.required ?? []),
    properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
    additionalProperties: false,
  };
}
