import { BROKER_OUTAGE } from './broker-outage';
import { PUBLISH_REFUSED } from './publish-refused';
import { RELAY_KILLED } from './relay-killed';

/** The event relay's fault scenarios (documentation/reliability.md), run by test/fault-scenarios-events.e2e-spec.ts and `npm run reliability`. */
export const EVENT_FAULT_SCENARIOS = [BROKER_OUTAGE, RELAY_KILLED, PUBLISH_REFUSED];
