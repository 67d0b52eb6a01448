import { describeFaultScenarios } from './support/fault-scenario-suite';
import { FAULT_SCENARIOS } from './faults/fault-scenario-list';

/** Scenarios 1 to 7: scale-out, Redis nodes killed and frozen, an API process killed, leases and sessions lost. */
describeFaultScenarios(
  'scale-out and faults 1-7 (separate API processes, a 3-node Redlock quorum)',
  FAULT_SCENARIOS.filter((s) => s.id <= 7),
);
