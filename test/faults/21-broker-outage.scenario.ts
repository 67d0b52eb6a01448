import type { ClaimRecord } from '../../harness/claim-runner';
import { eventScenario } from '../../harness/event-sale';

const OUTAGE_MS = 20_000;
/**
 * The least of the sale the outage must cover for the rate check to mean anything. On a quiet
 * 2-core machine the sale lasts a few seconds and the outage starts at 15% of it.
 */
const MIN_OVERLAP_MS = 1000;

/** When the last run's outage began and ended (wall clock, as the database's claimed_at). */
const outage = { started: 0, ended: 0 };

/** Grants per second among `records` whose claimed_at (database clock) falls in [from, to). */
function grantRate(records: ClaimRecord[], from: number, to: number): number {
  const n = records.filter(
    (r) => r.status === 200 && r.claimedAt && Date.parse(r.claimedAt) >= from && Date.parse(r.claimedAt) < to,
  ).length;
  return to > from ? (n * 1000) / (to - from) : 0;
}

/**
 * The broker unreachable for 20 s mid-sale: the link of every process to RabbitMQ blackholed
 * (connections hang, new ones too). Claims must not notice (>= 0.9x their rate before it),
 * and every event must arrive once the link is back.
 */
export const BROKER_OUTAGE = eventScenario({
  id: 21,
  title: 'Events: the broker unreachable (link blackholed) for 20 s mid-sale',
  // A long sale at a modest pace, so that the outage covers seconds of it.
  processes: 2,
  users: 2000,
  stock: 2000,
  concurrency: 16,
  faultAt: 0.15,
  exactlyOnce: false,
  deliveryWithinMs: 60_000,
  fault: async ({ sale, brokerLink }) => {
    outage.started = Date.now();
    outage.ended = 0;
    brokerLink.set('blackhole');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    brokerLink.set('forward');
    outage.ended = Date.now();
    sale.note(`every process's link to RabbitMQ blackholed at 15% of the claims answered, for ${OUTAGE_MS / 1000} s`);
  },
  after: async ({ sale }, run) => {
    if (outage.ended === 0) return;
    const grants = run.records.filter((r) => r.status === 200 && r.claimedAt).map((r) => Date.parse(r.claimedAt!));
    const first = Math.min(...grants);
    const last = Math.max(...grants);
    const before = grantRate(run.records, first, outage.started);
    const duringEnd = Math.min(outage.ended, last);
    const during = grantRate(run.records, outage.started, duringEnd);
    sale.check(
      'claims went on during the outage at >= 0.9x their rate before it',
      duringEnd - outage.started >= MIN_OVERLAP_MS && during >= 0.9 * before,
      `${during.toFixed(0)} grants/s over ${((duringEnd - outage.started) / 1000).toFixed(1)} s of outage vs ${before.toFixed(0)} grants/s before`,
    );
    sale.note(`grants/s before the outage ${before.toFixed(0)}, during it ${during.toFixed(0)}`);
  },
});
