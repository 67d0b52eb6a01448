import { pingThrough } from '../../harness/fault-probes';
import { faultScenario } from '../../harness/fault-sale';

export const SCENARIO_12 = faultScenario(12, 'One Redis node 200 ms away (100 ms each way) for the whole sale', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  redisLinkTo: { node: 0, delayMs: 100 },
  after: async (sale, run) => {
    const rtt = await pingThrough(sale.redisLink!.port);
    sale.check('the slow link was slow: a PING through it took 200 ms or more', rtt >= 200, `PING ${Math.round(rtt)} ms`);
    const p99 = run.latency.getValueAtPercentile(99) / 1000;
    sale.note(
      `PING through the slow link ${Math.round(rtt)} ms; claim answers p50 ${Math.round(run.latency.getValueAtPercentile(50) / 1000)} ms, p99 ${Math.round(p99)} ms`,
    );
  },
});
