import { describeFaultScenarios } from './support/fault-scenario-suite';
import { FAULT_SCENARIOS } from './faults/fault-scenario-list';

/** Scenarios 8 to 14: a drain, a frozen row holder, blackholed and slow links, a clock jump, retried claims. */
describeFaultScenarios(
  'scale-out and faults 8-14 (separate API processes, a 3-node Redlock quorum)',
  FAULT_SCENARIOS.filter((s) => s.id >= 8),
);
