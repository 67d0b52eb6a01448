import { databaseSnapshot } from '../../harness/database-checks';
import { faultScenario } from '../../harness/fault-sale';

export const SCENARIO_4 = faultScenario(4, 'One API process SIGKILLed mid-sale', {
  processes: 3,
  redisNodes: 3,
  users: 1000,
  stock: 300,
  expect: 'every-200-is-a-row',
  faultAt: 0.2,
  // A claim in flight on the killed process may have committed without its client hearing.
  rowWithout200Allowed: (record) => record?.status === 0,
  fault: async (sale) => {
    sale.group.processes[2].signal('SIGKILL');
    await sale.group.processes[2].exited;
    sale.note('API process 3 of 3 SIGKILLed at 20%; its clients get no answer (NO_ANSWER), the load balancer-less pool keeps trying it');
  },
  after: async (sale) => {
    const db = await databaseSnapshot(sale.group.databaseUrl, sale.couponName);
    sale.check('the others went on: the stock sold out', db?.remaining_amount === 0, `remaining ${db?.remaining_amount}`);
  },
});
