import { describeFaultScenarios } from './support/fault-scenario-suite';
import { EVENT_FAULT_SCENARIOS } from './faults/fault-scenario-list';

/**
 * The event relay under faults (documentation/reliability.md): the broker unreachable, a
 * relaying process killed, a publish refused. Each scenario owns its processes, exchange and
 * queue; the shared RabbitMQ is only ever cut off through a TcpProxy.
 */
describeFaultScenarios('event relay faults (separate API processes, RabbitMQ through a TcpProxy)', EVENT_FAULT_SCENARIOS, {
  minChecks: 5,
  timeoutMs: 420_000,
});
