import { faultScenario } from '../../harness/fault-sale';

export const SCENARIO_2 = faultScenario(2, 'One Redis node killed mid-sale (quorum 2 of 3 holds)', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'exact',
  faultAt: 0.2,
  fault: async (sale) => {
    await sale.nodes[0].kill();
    sale.note('node 1 of 3 SIGKILLed at 20% of the claims answered');
  },
});
