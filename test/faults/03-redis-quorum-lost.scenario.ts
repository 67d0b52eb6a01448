import { probeClaim, sleep } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';
import { SERVICE_CLAIM_QUEUE_TIMEOUT_MS } from '../../harness/fault-timeouts';

/** Without a quorum a claim must give up, not wait: within the queue timeout, the service's bound on any wait. */
const QUORUM_LOST_ANSWER_WITHIN_MS = SERVICE_CLAIM_QUEUE_TIMEOUT_MS;
/** How long both nodes stay down after the probe: claims in flight meet the lost quorum, and stock is left to sell after the restart. */
const NODES_DOWN_MS = 1000;

export const SCENARIO_3 = faultScenario(3, 'Two of three Redis nodes killed, then restarted', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  faultAt: 0.2,
  fault: async (sale) => {
    await Promise.all([sale.nodes[0].kill(), sale.nodes[1].kill()]);
    const probe = await probeClaim(sale);
    sale.check(
      'quorum lost: a claim answers 503 LOCK_UNAVAILABLE within 5 s and writes nothing',
      probe.status === 503 && probe.code === 'LOCK_UNAVAILABLE' && probe.elapsedMs < QUORUM_LOST_ANSWER_WITHIN_MS && !probe.wrote,
      `${probe.status} ${probe.code} after ${probe.elapsedMs} ms, row written: ${probe.wrote}`,
    );
    await sleep(NODES_DOWN_MS);
    await Promise.all([sale.nodes[0].restart(), sale.nodes[1].restart()]);
    sale.note(`nodes 1 and 2 SIGKILLed at 20%; probe claim: ${probe.status} ${probe.code} in ${probe.elapsedMs} ms; restarted ~1 s later`);
  },
});
