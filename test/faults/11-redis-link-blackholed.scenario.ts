import { faultScenario } from '../../harness/fault-sale';
import { NO_CLAIM_HANGS_MS } from '../../harness/fault-timeouts';

export const SCENARIO_11 = faultScenario(11, 'The link to one Redis node blackholed mid-sale (quorum 2 of 3 holds)', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  faultAt: 0.2,
  redisLinkTo: { node: 0 },
  fault: async (sale) => {
    sale.redisLink!.set('blackhole');
    sale.note('the proxy between every API process and node 1 of 3 stopped forwarding at 20% (connections stay open) until the sale ended');
  },
  after: async (sale, run) => {
    const slowest = Math.max(...run.records.map((r) => r.latencyMs));
    sale.check('no claim hung: every answer within 5 s', slowest < NO_CLAIM_HANGS_MS, `slowest answer ${Math.round(slowest)} ms`);
    sale.note(`slowest answer ${Math.round(slowest)} ms`);
  },
});
