import { holdCutOffWithRow } from '../../harness/cut-off-process';
import { claimThrough, sleep } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';
import {
  OUTLAST_FAULT_REQUEST_TIMEOUT_MS,
  SERVICE_CLAIM_QUEUE_TIMEOUT_MS,
  SERVICE_HEALTH_TIMEOUT_MS,
  SERVICE_QUERY_TIMEOUT_MS,
} from '../../harness/fault-timeouts';

/** The cut: past the stuck lease (LOCK_TTL_MS 5 s) and the query timeout (6 s), so the others sell the rest while it lasts. */
const CUT_MS = 12_000;
/** A claim queued behind the stuck batch: the queue timeout, plus 1.5 s for the answer to cross a loaded machine. */
const QUEUED_PROBE_WITHIN_MS = SERVICE_CLAIM_QUEUE_TIMEOUT_MS + 1500;
/** The stuck batch fails once its unanswered statement times out (query timeout, 6 s). */
const STUCK_BATCH_FAILS_WITHIN_MS = SERVICE_QUERY_TIMEOUT_MS;
/** The stuck connection must be closed by the query timeout (6 s) + 1.5 s; a ROLLBACK sent into it would take 6 s more. */
const STUCK_CONNECTION_CLOSED_WITHIN_MS = SERVICE_QUERY_TIMEOUT_MS + 1500;
/** A claim after the stuck batch failed: one health check, two if a batch of others is ahead, plus 1 s. */
const DATABASE_UNAVAILABLE_PROBE_WITHIN_MS = 2 * SERVICE_HEALTH_TIMEOUT_MS + 1000;
/** How often the test looks at the process's log and the proxy while it waits. */
const POLL_MS = 100;

export const SCENARIO_10 = faultScenario(10, "One API process's link to PostgreSQL blackholed mid-transaction for 12 s, then restored", {
  // Less stock than 9: the rest must sell within the 12 s cut, after the stuck lease runs out (~5 s).
  processes: 2,
  redisNodes: 3,
  users: 1000,
  stock: 700,
  expect: 'exact',
  faultAt: 0.05,
  requestTimeoutMs: OUTLAST_FAULT_REQUEST_TIMEOUT_MS,
  databaseLinkOf: 1,
  fault: async (sale) => {
    const cutOff = sale.group.processes[1];
    const link = sale.databaseLink!;
    const cutMs = CUT_MS;
    const stuckBatchFailed = () => cutOff.count(/failed, database unavailable/);
    const failedBefore = stuckBatchFailed();
    const probes: string[] = [];
    /** A claim sent straight to the cut-off process must be answered 503 `code` within `withinMs`. */
    const probe503 = async (what: string, checkName: string, code: string, withinMs: number) => {
      const answer = await claimThrough(cutOff.url, sale);
      const seen = `${answer.status} ${answer.code} after ${answer.elapsedMs} ms`;
      probes.push(`${what}: ${seen}`);
      sale.check(checkName, answer.status === 503 && answer.code === code && answer.elapsedMs < withinMs, seen);
    };
    const held = await holdCutOffWithRow(sale, {
      url: cutOff.url,
      clientPorts: () => new Set(link.upstreamPorts()),
      cut: () => link.set('blackhole'),
      restore: () => link.set('forward'),
      forMs: cutMs,
      cutWord: 'blackholed',
      who: 'the partition',
      during: async (caught) => {
        const caughtAt = Date.now();
        // Sent straight to the cut-off process, as by a client that chose it before the load
        // balancer noticed: it queues behind the stuck batch, and must not wait for the link.
        await probe503(
          'claim queued behind the stuck batch',
          'a claim queued behind the stuck batch is answered 503 LOCK_BUSY within CLAIM_QUEUE_TIMEOUT_MS (5 s) + 1.5 s, unsettled',
          'LOCK_BUSY',
          QUEUED_PROBE_WITHIN_MS,
        );
        // Once the stuck batch has failed (not when its COMMIT is the unanswered statement: it
        // must learn the outcome first), the next batch asks PostgreSQL before taking the lease.
        for (let waited = 0; stuckBatchFailed() === failedBefore && waited < STUCK_BATCH_FAILS_WITHIN_MS; waited += POLL_MS)
          await sleep(POLL_MS);
        // Its unanswered statement times out after the statement timeout + 1 s (6 s); the process
        // must then close that connection, not send a ROLLBACK into it and wait 6 s more.
        while (!link.clientClosed(caught.clientPort) && Date.now() - caughtAt < STUCK_CONNECTION_CLOSED_WITHIN_MS) await sleep(POLL_MS);
        sale.check(
          'the cut-off process closed the stuck connection within the statement timeout + 2.5 s, instead of a ROLLBACK into it',
          link.clientClosed(caught.clientPort),
          link.clientClosed(caught.clientPort)
            ? `closed ${Date.now() - caughtAt} ms after the catch (or earlier)`
            : `still open ${STUCK_CONNECTION_CLOSED_WITHIN_MS / 1000} s after the catch`,
        );
        if (stuckBatchFailed() === failedBefore) {
          probes.push('the stuck batch was still waiting (its COMMIT unanswered), no second probe');
          return;
        }
        // A batch that took the lease would wait out a query timeout (6 s) on the dead link; one
        // that asks first answers after HEALTH_TIMEOUT_MS (twice, if a batch of others is ahead).
        await probe503(
          'claim after the stuck batch failed',
          'after its stuck batch failed, the cut-off process answers 503 DATABASE_UNAVAILABLE without taking the coupon lock (within 2 x HEALTH_TIMEOUT_MS + 1 s)',
          'DATABASE_UNAVAILABLE',
          DATABASE_UNAVAILABLE_PROBE_WITHIN_MS,
        );
      },
    });
    for (const probe of probes) sale.note(probe);
    if (!held) return;
    const { caught, seen } = held;
    sale.note(
      `the proxy between API process 2 and PostgreSQL stopped forwarding (no close, no reset) on attempt ${caught.attempts}; ` +
        `PostgreSQL ended the stuck session ${seen.sessionEndedMs ?? 'never'} ms in; first new grant ${seen.firstGrantMs ?? 'never'} ms in; ` +
        `sold out ${seen.soldOutMs ?? 'not'} ms in; link restored after ${cutMs / 1000} s (process out of the clients' rotation meanwhile)`,
    );
  },
});
