import type { ClaimRecord, SaleRun } from './claim-runner';
import type { CheckResult } from './check-result';
import type { HttpPool } from './http-pool';
import type { RedisNode } from './redis-node';
import type { ServiceGroup } from './self-hosted-service';
import type { TcpProxy } from './tcp-proxy';
import type { SaleUser } from './user-seeder';

/**
 * The fault scenarios of documentation/reliability.md: each starts its own API processes and
 * Redis nodes on free loopback ports, runs a sale over HTTP with the stress tool, breaks
 * something mid-sale and judges the result (runFaultSale, harness/fault-sale.ts). The scenarios
 * are one file each under test/faults/, in one list (test/faults/fault-scenario-list.ts) that
 * test/fault-scenarios-*.e2e-spec.ts assert and `npm run reliability` runs to write the table.
 */
export interface ScenarioResult {
  id: number;
  title: string;
  setup: string;
  users: number;
  stock: number;
  claimsSent: number;
  granted: number;
  /** Every answer by outcome, the retried 503s included. */
  answers: Record<string, number>;
  rows: number;
  oversell: number;
  checks: CheckResult[];
  notes: string[];
  durationMs: number;
}

export interface FaultScenario {
  id: number;
  title: string;
  run(): Promise<ScenarioResult>;
  /** Checks the run must have made, by name (the jest run asserts them on top of "all passed"). */
  requiredChecks?: string[];
  /** The whole stock must end as rows (the jest run asserts rows === stock). */
  sellsOut?: boolean;
}

export interface SaleContext {
  group: ServiceGroup;
  nodes: RedisNode[];
  couponName: string;
  users: SaleUser[];
  /** A user who takes no part in the sale, for probes during a fault. */
  probe: SaleUser;
  http: HttpPool;
  /** The proxied links the spec asked for: one process's link to PostgreSQL, every process's link to one Redis node. */
  databaseLink: TcpProxy | null;
  redisLink: TcpProxy | null;
  /** The libfaketime offset file of the process under a fake clock ("+30s" jumps it). */
  clockFile: string | null;
  check(name: string, passed: boolean, detail: string): void;
  note(text: string): void;
}

export interface FaultSale {
  id: number;
  title: string;
  processes: number;
  redisNodes: number;
  users: number;
  stock: number;
  env?: Record<string, string>;
  concurrency?: number;
  doubleDip?: number;
  /** The fault starts once this share of the claims has been answered. */
  faultAt?: number;
  fault?: (sale: SaleContext) => Promise<void>;
  /** Judges the sale: 'exact' applies every stress check; 'every-200-is-a-row' the weaker honest set. */
  expect: 'exact' | 'every-200-is-a-row';
  /** Milliseconds a client waits for an answer (default 15 s); longer where a process is frozen on purpose. */
  requestTimeoutMs?: number;
  /** A claim unanswered this long frees its place among the `concurrency` in flight (runSale's slotReleaseAfterMs). */
  slotReleaseAfterMs?: number;
  /** This process (index) reaches PostgreSQL through a proxy the fault can break: sale.databaseLink. */
  databaseLinkOf?: number;
  /** Every process reaches this Redis node (index) through one proxy: sale.redisLink, delayed from the start by delayMs. */
  redisLinkTo?: { node: number; delayMs?: number };
  /** This process (index) runs under libfaketime (Debian's faketime package); sale.clockFile moves its clock. */
  fakeClockOf?: number;
  /** Every claim carries an Idempotency-Key and is retried with it (503s, lost answers, keys in flight). */
  idempotencyKeys?: boolean;
  /** Usernames allowed to hold a row without a 200 (answer lost with a process, or learnt on retry). */
  rowWithout200Allowed?: (record: ClaimRecord | undefined) => boolean;
  after?: (sale: SaleContext, run: SaleRun) => Promise<void>;
}
