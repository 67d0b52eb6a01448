import { faultScenario } from '../../harness/fault-sale';
import { NO_CLAIM_HANGS_MS } from '../../harness/fault-timeouts';

export const SCENARIO_7 = faultScenario(7, 'A Redis node that accepts connections but never answers (SIGSTOP)', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  faultAt: 0.2,
  fault: async (sale) => {
    sale.nodes[2].pause();
    sale.note('node 3 of 3 SIGSTOPped at 20% (REDIS_COMMAND_TIMEOUT_MS=300) until the sale ended');
  },
  after: async (sale, run) => {
    sale.nodes[2].resume();
    const slowest = Math.max(...run.records.map((r) => r.latencyMs));
    sale.check('no claim hung: every answer within 5 s', slowest < NO_CLAIM_HANGS_MS, `slowest answer ${Math.round(slowest)} ms`);
    sale.note(`slowest answer ${Math.round(slowest)} ms`);
  },
});
