import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/config.loader';
import { withDatabase } from '../../harness/database-checks';
import { eventScenario } from '../../harness/event-sale';

const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = 200;

/** A metric's value in a Prometheus exposition (the sum of its series), or null when absent. */
function metric(exposition: string, name: string, labels = ''): number | null {
  const lines = exposition.split('\n').filter((line) => line.startsWith(`${name}${labels}`) && /\s-?[\d.e+]+$/.test(line));
  return lines.length === 0 ? null : lines.reduce((sum, line) => sum + Number(line.split(/\s+/).pop()), 0);
}

/**
 * A publish the broker refuses: a queue bound to the exchange for coupon.closed with
 * x-max-length 0 and x-overflow reject-publish makes RabbitMQ nack every coupon.closed (a
 * message routed to a full reject-publish queue is nacked). The relay tries it
 * EVENTS_PUBLISH_MAX_ATTEMPTS times with a doubling wait, then dead-letters it in the outbox
 * (the events_outbox_dead_letters gauge shows it) and goes on. Once the queue is gone, an
 * operator's `npm run events:dead-letters -- --replay` sends it again.
 */
export const PUBLISH_REFUSED = eventScenario({
  id: 23,
  title: 'Events: the broker refuses a publish (nack), then an operator replays it',
  processes: 2,
  users: 600,
  stock: 200,
  exactlyOnce: false,
  deliveryWithinMs: 30_000,
  env: { EVENTS_PUBLISH_MAX_ATTEMPTS: String(MAX_ATTEMPTS), EVENTS_RETRY_DELAY_MS: String(RETRY_DELAY_MS) },
  beforeClose: async ({ tail }) => {
    const channel = await tail.channel();
    // Exclusive to the test queue's connection: the broker deletes it with that connection, whatever happens to the run.
    await channel.assertQueue(`${tail.queue}-full`, { exclusive: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await channel.bindQueue(`${tail.queue}-full`, tail.exchange, 'coupon.closed');
    await channel.close();
  },
  after: async ({ sale, tail }) => {
    const deadUntil = Date.now() + 20_000;
    let exposition = '';
    let dead: number | null = null;
    while (Date.now() < deadUntil) {
      exposition = await (await fetch(`${sale.group.urls[0]}/metrics`)).text();
      dead = metric(exposition, 'events_outbox_dead_letters');
      if (dead === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    sale.check('the refused coupon.closed is dead-lettered, and the gauge says so', dead === 1, `events_outbox_dead_letters ${dead}`);
    let refused = 0;
    for (const url of sale.group.urls)
      refused += metric(await (await fetch(`${url}/metrics`)).text(), 'events_published_total', '{outcome="refused"}') ?? 0;
    sale.check(
      `tried exactly ${MAX_ATTEMPTS} times, not in an endless loop`,
      refused === MAX_ATTEMPTS,
      `${refused} refusals counted across processes`,
    );

    const channel = await tail.channel();
    await channel.deleteQueue(`${tail.queue}-full`);
    await channel.close();
    const before = tail.of('coupon.closed', sale.couponName).length;
    const script = join(projectRoot(), 'dist', 'scripts', 'events-dead-letters.js');
    const env = { ...process.env, DATABASE_URL: sale.group.databaseUrl };
    const listed = await promisify(execFile)(process.execPath, [script], { env });
    sale.check('events:dead-letters lists it', listed.stdout.includes('coupon.closed'), listed.stdout.trim().slice(0, 200));
    const replayed = await promisify(execFile)(process.execPath, [script, '--replay'], { env });
    const arrived = await tail.until(() => tail.of('coupon.closed', sale.couponName).length > before, 10_000);
    // The relay deletes the row once the broker confirmed it: a moment after the message arrived.
    let left = -1;
    await tail.until(
      () => left === 0,
      5000,
      async () => {
        left = await withDatabase(
          sale.group.databaseUrl,
          async (db) => (await db.query('SELECT count(*)::int AS n FROM outbox_events')).rows[0].n as number,
        );
      },
    );
    sale.check(
      'after the replay coupon.closed arrives again, and the dead letter is gone',
      arrived && left === 0,
      `${replayed.stdout.trim()}; ${left} outbox rows left; coupon.closed deliveries ${before} -> ${tail.of('coupon.closed', sale.couponName).length}`,
    );
    sale.note(
      `coupon.closed nacked ${refused} times by a reject-publish queue of length 0, dead-lettered, replayed with npm run events:dead-letters -- --replay`,
    );
  },
});
