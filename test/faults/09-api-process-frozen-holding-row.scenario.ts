import { holdCutOffWithRow } from '../../harness/cut-off-process';
import { faultScenario } from '../../harness/fault-sale';
import { OUTLAST_FAULT_REQUEST_TIMEOUT_MS } from '../../harness/fault-timeouts';
import { localTcpPortsOf } from '../../harness/process-sockets';

/**
 * The freeze: longer than the stuck session's idle-in-transaction timeout (2 s), its lease (5 s)
 * and a queue wait (5 s) together, so the others must sell the rest while it is frozen.
 */
const FROZEN_MS = 25_000;
/** A claim unanswered this long frees its place in the crowd (see below): well above a live claim's answer time. */
const SLOT_RELEASE_AFTER_MS = 3000;

export const SCENARIO_9 = faultScenario(9, 'An API process frozen (SIGSTOP) for 25 s while it holds the coupon row', {
  // Clients wait out the freeze (60 s timeout) so the frozen process's answers are judged too.
  processes: 2,
  redisNodes: 3,
  users: 1200,
  stock: 1000,
  expect: 'exact',
  faultAt: 0.05,
  requestTimeoutMs: OUTLAST_FAULT_REQUEST_TIMEOUT_MS,
  // A frozen process answers nobody until it wakes. Its claims stuck for 3 s stop holding the
  // crowd's 60 places (new users keep arriving at the others): when it froze holding every one
  // (lock turns pile the clients on one process; 5 runs in 9 on 2026-11-29), nothing reached
  // the other process for the whole freeze, which tests the crowd, not the service.
  slotReleaseAfterMs: SLOT_RELEASE_AFTER_MS,
  fault: async (sale) => {
    const stuck = sale.group.processes[1];
    const frozenMs = FROZEN_MS;
    const held = await holdCutOffWithRow(sale, {
      url: stuck.url,
      clientPorts: () => localTcpPortsOf(stuck.pid),
      cut: () => stuck.signal('SIGSTOP'),
      restore: () => stuck.signal('SIGCONT'),
      forMs: frozenMs,
      cutWord: 'frozen',
      who: 'the freeze',
    });
    if (!held) return;
    const { caught, seen } = held;
    sale.note(
      `API process 2 of 2 SIGSTOPped on attempt ${caught.attempts} with backend ${caught.backendPid} idle in transaction holding the coupon row; ` +
        `PostgreSQL ended that session ${seen.sessionEndedMs ?? 'never'} ms in; first new grant ${seen.firstGrantMs ?? 'never'} ms in; ` +
        `sold out ${seen.soldOutMs ?? 'not'} ms in; SIGCONT after ${frozenMs / 1000} s (out of the clients' rotation meanwhile)`,
    );
  },
  after: async (sale) => {
    // Its stuck batch must fail on waking (its session is gone): a commit there would be a 200 on a row
    // the others may have sold meanwhile. The exact checks above hold it to every answer it gave.
    const failed = sale.group.processes[1].count(/failed, database unavailable/);
    sale.check(
      'on waking, the frozen process reported its stuck batch failed (database unavailable)',
      failed > 0,
      `${failed} such warnings`,
    );
  },
});
