import { faultScenario } from '../../harness/fault-sale';

export const SCENARIO_1 = faultScenario(1, 'Scale-out: 3 API processes share PostgreSQL and a 3-node Redlock quorum', {
  processes: 3,
  redisNodes: 3,
  users: 5000,
  stock: 500,
  concurrency: 120,
  doubleDip: 10,
  expect: 'exact',
});
