import { withDatabase } from '../../harness/database-checks';
import { eventScenario } from '../../harness/event-sale';
import { localTcpPortsOf } from '../../harness/process-sockets';

/** Each way on the broker link: a lease then waits at least twice this for its confirms, long enough to be caught. */
const LINK_DELAY_MS = 150;

/**
 * An API process SIGKILLed while it relays: caught holding a lease while it waits for the
 * broker's confirms (a session of its own, idle in transaction, holding an outbox advisory lock
 * in pg_locks). Its transaction rolls back with the session, so
 * the rows it was publishing are leased again by the other process: every event arrives,
 * some perhaps twice (consumers deduplicate by id).
 */
export const RELAY_KILLED = eventScenario({
  id: 22,
  title: 'Events: an API process SIGKILLed while it relays',
  processes: 2,
  users: 1000,
  stock: 600,
  faultAt: 0.2,
  exactlyOnce: false,
  deliveryWithinMs: 60_000,
  // A claim in flight on the killed process may have committed without its client hearing.
  rowWithout200Allowed: (record) => record?.status === 0,
  fault: async ({ sale, brokerLink }) => {
    brokerLink.setDelay(LINK_DELAY_MS);
    const victim = sale.group.processes[1];
    const caught = await withDatabase(sale.group.databaseUrl, async (db) => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const { rows } = await db.query(
          `SELECT a.client_port, count(*)::int AS leased FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() AND a.state = 'idle in transaction'
            GROUP BY a.client_port`,
        );
        const ports = localTcpPortsOf(victim.pid);
        const lease = rows.find((r: { client_port: number }) => ports.has(r.client_port));
        if (lease) {
          victim.signal('SIGKILL');
          sale.http.setInRotation(victim.url, false);
          return lease.leased as number;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return null;
    });
    await victim.exited;
    brokerLink.setDelay(0);
    sale.check(
      'the process was SIGKILLed while it held a relay lease, waiting for confirms',
      caught !== null,
      caught === null ? 'no lease seen within 20 s' : `${caught} coupon lease(s) held`,
    );
    sale.note(`API process 2 of 2 SIGKILLed holding a relay lease (broker link delayed ${LINK_DELAY_MS} ms each way so leases last)`);
  },
});
