/**
 * Every timeout of the fault harness and scenarios, with the reason for its value. Those that
 * follow a service setting name it; the scenarios run the service's defaults (env.example.json)
 * unless a scenario's `env` says otherwise.
 */

/** CLAIM_QUEUE_TIMEOUT_MS (default): a claim waits at most this long for its turn, then 503 LOCK_BUSY. */
export const SERVICE_CLAIM_QUEUE_TIMEOUT_MS = 5000;
/** The service's query_timeout: DATABASE_STATEMENT_TIMEOUT_MS (5 s) + 1 s; an unanswered statement fails client-side then. */
export const SERVICE_QUERY_TIMEOUT_MS = 6000;
/** HEALTH_TIMEOUT_MS (default): how long a batch's "is PostgreSQL there?" question waits before 503 DATABASE_UNAVAILABLE. */
export const SERVICE_HEALTH_TIMEOUT_MS = 1000;
/** REDIS_COMMAND_TIMEOUT_MS in every scenario: a dead, frozen or blackholed node costs a lock round 300 ms, not the default 1 s. */
export const SCENARIO_REDIS_COMMAND_TIMEOUT_MS = 300;

/**
 * A client's wait for one answer. Above the slowest honest answer (a queue wait of 5 s, then a
 * query that times out at 6 s, then a health check of 1 s: 12 s), so NO_ANSWER means none came.
 */
export const REQUEST_TIMEOUT_MS = 15_000;
/** A client's wait where a process is frozen or cut off on purpose (up to 25 s): it outlasts the fault, so that process's answers are judged too. */
export const OUTLAST_FAULT_REQUEST_TIMEOUT_MS = 60_000;
/** The stress tool's bound on one sale: every scenario's sale ends in well under a minute; this only stops a wedged one. */
export const SALE_MAX_SECONDS = 120;
/** Between a client's retries of a 503: the service's own Retry-After is 1-2 s, a crowd retries sooner, which is the harder case. */
export const RETRY_DELAY_MS = 100;

/** With a Redis node dead, frozen or blackholed, no claim may wait longer: the queue timeout (5 s) is the service's own bound. */
export const NO_CLAIM_HANGS_MS = SERVICE_CLAIM_QUEUE_TIMEOUT_MS;
/** How long a cut (freeze, blackhole) may take to land while the process holds the coupon row: a cut took up to 111 tries of ~100 ms. */
export const CUT_LANDS_WITHIN_MS = 20_000;
/** After a cut, how long its running statements get to finish (they are milliseconds long; a statement still active after this is stuck). */
export const STATEMENTS_SETTLE_MS = 500;
/** The others' first grant after a process is cut off holding the row: its lease (LOCK_TTL_MS 5 s) runs out, plus a queue wait (5 s). */
export const FIRST_GRANT_AFTER_CUT_MS = 10_000;
