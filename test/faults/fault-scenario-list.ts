import { FaultScenario } from '../../harness/fault-sale';
import { SCENARIO_1 } from './01-scale-out.scenario';
import { SCENARIO_2 } from './02-redis-node-killed.scenario';
import { SCENARIO_3 } from './03-redis-quorum-lost.scenario';
import { SCENARIO_4 } from './04-api-process-killed.scenario';
import { SCENARIO_5 } from './05-lease-expires-mid-transaction.scenario';
import { SCENARIO_6 } from './06-database-sessions-terminated.scenario';
import { SCENARIO_7 } from './07-redis-node-frozen.scenario';
import { SCENARIO_8 } from './08-api-process-drained.scenario';
import { SCENARIO_9 } from './09-api-process-frozen-holding-row.scenario';
import { SCENARIO_10 } from './10-database-link-blackholed.scenario';
import { SCENARIO_11 } from './11-redis-link-blackholed.scenario';
import { SCENARIO_12 } from './12-slow-redis-node.scenario';
import { SCENARIO_13 } from './13-wall-clock-jump.scenario';
import { SCENARIO_14 } from './14-idempotent-retries.scenario';
import { BROKER_OUTAGE } from './21-broker-outage.scenario';
import { RELAY_KILLED } from './22-relay-killed.scenario';
import { PUBLISH_REFUSED } from './23-publish-refused.scenario';

/**
 * The fault scenarios of documentation/reliability.md, in order: the one list that
 * test/fault-scenarios-1-7.e2e-spec.ts and -8-14.e2e-spec.ts assert (split by id, so the two run
 * side by side; an id past 14 lands in the second) and `npm run reliability` (scripts/reliability.ts)
 * runs and tabulates. A new scenario is one file here (NN-name.scenario.ts exporting a
 * FaultScenario) and one line below.
 */
export const FAULT_SCENARIOS: FaultScenario[] = [
  SCENARIO_1,
  SCENARIO_2,
  SCENARIO_3,
  SCENARIO_4,
  SCENARIO_5,
  SCENARIO_6,
  SCENARIO_7,
  SCENARIO_8,
  SCENARIO_9,
  SCENARIO_10,
  SCENARIO_11,
  SCENARIO_12,
  SCENARIO_13,
  SCENARIO_14,
];

/**
 * The event relay's fault scenarios (RabbitMQ cut off through a TcpProxy, a relaying process
 * killed, a publish refused): asserted by test/fault-scenarios-events.e2e-spec.ts (longer runs,
 * their own checks), run by `npm run reliability` after the list above.
 */
export const EVENT_FAULT_SCENARIOS: FaultScenario[] = [BROKER_OUTAGE, RELAY_KILLED, PUBLISH_REFUSED];
