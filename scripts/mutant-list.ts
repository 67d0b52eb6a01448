import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The named mutants `npm run mutants` applies, one at a time, to a scratch copy of the project.
 * Each one breaks a promise or a mechanism the way a plausible bug would, and names the tests
 * that must fail because of it. A search text must occur exactly once in its file: when the code
 * moves, the mutant fails loudly instead of silently testing nothing; then update the search
 * text (and the replacement) to the code as it is now.
 */
export interface Mutant {
  name: string;
  /** What the mutant breaks, in the product's words. */
  breaks: string;
  /** One or more edits, each applied to its file; every search text must occur exactly once. */
  edits: { file: string; search: string; replace: string }[];
  /** Jest runs that must fail: a test file, and optionally a test name pattern (jest -t) within it. */
  killedBy: { file: string; name?: string }[];
  /** Whether the killing tests run the built service (dist/): the scratch copy is then compiled first. */
  needsBuild?: boolean;
}

export const MUTANTS: Mutant[] = [
  {
    name: 'fast-path-ignores-user-id',
    breaks: 'the sold-out fast path answers from memory without checking the body user_id against the token',
    edits: [
      {
        file: 'src/claims/claim-fast-path.ts',
        search: 'return await this.claims.answerFromMemory(claimRequestOf(user, body, request));',
        replace: 'return await this.claims.answerFromMemory({ ...claimRequestOf(user, body, request), requestedUsername: undefined });',
      },
    ],
    killedBy: [{ file: 'test/claim-fast-path.e2e-spec.ts' }],
  },
  {
    name: 'fast-path-unverified-token',
    breaks: 'the sold-out fast path trusts a token it only decoded (jsonwebtoken decode), never verified',
    edits: [
      {
        file: 'src/claims/claim-fast-path.ts',
        search: 'const user = this.auth.authenticate(request.headers.authorization);',
        replace:
          "const claimsOfToken = (require('jsonwebtoken') as typeof import('jsonwebtoken')).decode(String(request.headers.authorization).replace(/^Bearer /i, '')) as { sub: string; username: string };\n" +
          "      const user = { id: claimsOfToken.sub, username: claimsOfToken.username, role: 'user' as const };",
      },
    ],
    killedBy: [{ file: 'test/claim-fast-path.e2e-spec.ts' }],
  },
  {
    name: 'commit-confirmation-removed',
    breaks: 'a COMMIT whose answer was lost is always reported as not committed (503), even when it landed',
    edits: [
      {
        file: 'src/claims/claims.repository.ts',
        search:
          "return withSpan('claim.commit_confirmation', {}, () =>\n" +
          '          this.confirmation.confirmCommit(batch, settlements!, error as Error, connection.processID),\n' +
          '        );',
        replace: 'throw error;',
      },
    ],
    killedBy: [{ file: 'test/stuck-session.e2e-spec.ts', name: 'COMMIT unanswered' }],
  },
  {
    name: 'no-lock',
    breaks: 'withLock runs the work without taking any Redlock lock',
    edits: [
      {
        file: 'src/lock/lock.service.ts',
        search: `    const lease = await withSpan('lock.acquire', { 'lock.resource': name }, () =>
      this.acquire(resources, name, options.retries ?? this.config.LOCK_RETRY_COUNT),
    );
    const waitedMs = Math.round(performance.now() - started);
    try {
      return { result: await work(), waitedMs };
    } finally {
      // The work is committed (or rolled back) by now; a failed release must not change that.
      await withSpan('lock.release', { 'lock.resource': name }, () => this.release(lease, name));
    }`,
        replace: '    return { result: await work(), waitedMs: Math.round(performance.now() - started) };',
      },
    ],
    killedBy: [{ file: 'test/lock-faults.e2e-spec.ts', name: 'lock key is exactly' }],
  },
  {
    name: 'leaked-lock',
    breaks: 'a lock is never released: the next batch of the coupon waits for the lease to expire',
    edits: [
      {
        file: 'src/lock/lock.service.ts',
        search: "      await withSpan('lock.release', { 'lock.resource': name }, () => this.release(lease, name));",
        replace: '      void lease;',
      },
    ],
    killedBy: [{ file: 'test/claims.e2e-spec.ts', name: 'flash sale|double dip|batch larger than the stock' }],
  },
  {
    name: 'lock-key-case-folded',
    breaks: 'the coupon lock key ignores case, so FLASH and flash block each other',
    edits: [
      {
        file: 'src/lock/coupon-lock.ts',
        search: 'export const couponLockResource = (couponName: string) => `claim:coupon:${couponName}`;',
        replace: 'export const couponLockResource = (couponName: string) => `claim:coupon:${couponName.toLowerCase()}`;',
      },
    ],
    killedBy: [{ file: 'test/lock-faults.e2e-spec.ts', name: 'lock key is exactly' }],
  },
  {
    name: 'batch-rejects-everything',
    breaks: 'every claim transaction is rolled back with a unique violation: nothing is ever granted',
    edits: [
      {
        file: 'src/claims/claims.repository.ts',
        search: '      settlements = await writeSettlement(runner, batch, this.keys, this.eventsWritten);',
        replace:
          '      settlements = await writeSettlement(runner, batch, this.keys, this.eventsWritten);\n' +
          "      if (settlements) throw Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });",
      },
    ],
    killedBy: [{ file: 'test/multi-coupon-claims.e2e-spec.ts', name: 'overlapping batches' }],
  },
  {
    name: 'oversell-fence-removed',
    breaks: 'the conditional decrement no longer refuses to take more stock than is left (remaining_amount >= granted)',
    edits: [
      {
        file: 'src/claims/claim-transaction.ts',
        search: 'WHERE c.id = w.coupon_id AND c.remaining_amount >= w.granted',
        replace: 'WHERE c.id = w.coupon_id',
      },
    ],
    killedBy: [{ file: 'test/oversell-fence.e2e-spec.ts' }],
  },
  {
    name: 'sold-out-memory-stale',
    breaks: 'the sold-out memory keeps answering SOLD_OUT after a restock bumped the stock version',
    edits: [
      {
        file: 'src/claims/sold-out-memory.ts',
        search: 'if (!state || state.stockVersion !== known.stockVersion) {',
        replace: 'if (!state) {',
      },
    ],
    killedBy: [
      { file: 'src/claims/sold-out-memory.spec.ts' },
      { file: 'test/coupon-updates.e2e-spec.ts', name: 'PATCH through A raises the amount' },
    ],
  },
  {
    name: 'holder-not-refused',
    breaks: 'the claim rule forgets that a holder already has the coupon',
    edits: [
      {
        file: 'src/claims/claim-decision.ts',
        search: "if (facts.holders.has(userId) || grantedHere.has(userId)) return { kind: 'already_claimed' };",
        replace: "if (grantedHere.has(userId)) return { kind: 'already_claimed' };",
      },
    ],
    killedBy: [{ file: 'src/claims/claim-decision.spec.ts' }, { file: 'test/claims.e2e-spec.ts', name: 'checks in order' }],
  },
  {
    name: 'sale-window-ignored',
    breaks: 'the claim rule grants outside the sale window',
    edits: [
      {
        file: 'src/claims/claim-decision.ts',
        search: "    if (facts.window.kind !== 'open') return facts.window;\n",
        replace: '',
      },
    ],
    killedBy: [{ file: 'src/claims/claim-decision.spec.ts' }, { file: 'test/sale-windows.e2e-spec.ts' }],
  },
  {
    name: 'one-coupon-two-batches',
    breaks: 'the batcher settles one coupon in two batches at once (arrival order and the lock fight back)',
    edits: [
      {
        file: 'src/claims/claim-batcher.ts',
        search: 'if (taken >= this.maxBatchSize || this.keysInFlight.has(waiter.key)) {',
        replace: 'if (taken >= this.maxBatchSize) {',
      },
    ],
    killedBy: [{ file: 'src/claims/claim-batcher.spec.ts' }],
  },
  {
    name: 'idempotency-replay-ignored',
    breaks:
      'a retry with the same Idempotency-Key runs afresh instead of replaying the first answer (a lost grant comes back ALREADY_CLAIMED)',
    edits: [
      {
        file: 'src/idempotency/idempotency.service.ts',
        search: '      if (stored) return replayOf(stored, idempotency);',
        replace: '      void stored;',
      },
      {
        file: 'src/idempotency/idempotency.service.ts',
        search: '    return stored ? replayOf(stored, idempotency) : null;',
        replace: '    return stored ? null : null;',
      },
    ],
    killedBy: [{ file: 'test/idempotency.e2e-spec.ts' }],
  },
  {
    name: 'outbox-overtakes-refused-event',
    breaks: "a coupon's later events are relayed while an earlier one waits out its backoff: consumers see them out of commit order",
    edits: [
      {
        file: 'src/events/outbox.repository.ts',
        search: 'WHERE w.coupon_id = o.coupon_id AND w.id < o.id AND w.dead_at IS NULL',
        replace: 'WHERE w.coupon_id = o.coupon_id AND w.id > o.id AND w.dead_at IS NULL',
      },
    ],
    killedBy: [{ file: 'test/outbox-lease.e2e-spec.ts', name: 'holds back|before the refused' }],
  },
  {
    name: 'commit-confirmation-ignores-keys',
    breaks: 'after a lost COMMIT a batch of keyed refusals is answered as committed without looking whether its keys are in',
    edits: [
      {
        file: 'src/claims/commit-confirmation.ts',
        search: 'const written = granted.length + keyed.length;',
        replace: 'const written = granted.length + 0 * keyed.length;',
      },
    ],
    killedBy: [{ file: 'test/claim-outcome-unknown.e2e-spec.ts', name: 'refusals alone' }],
  },
  {
    name: 'deadlock-is-a-500',
    breaks: 'a transaction PostgreSQL ended as a deadlock is answered 500 instead of a retryable LOCK_BUSY',
    edits: [{ file: 'src/common/database-errors.ts', search: "'40P01', // deadlock_detected", replace: "'40P0X', // deadlock_detected" }],
    killedBy: [{ file: 'test/lock-conflicts.e2e-spec.ts', name: 'deadlock' }],
  },
  {
    name: 'unsampled-batch-in-caller-trace',
    breaks: "a batch with no sampled claim runs in the context of whichever request queued it, filing its spans in that request's trace",
    edits: [
      {
        file: 'src/tracing/claim-spans.ts',
        search: 'if (traced.length === 0) return UNSAMPLED_BATCH;',
        replace: 'if (traced.length === 0) return UNTRACED_BATCH;',
      },
    ],
    killedBy: [{ file: 'src/tracing/claim-spans.spec.ts' }],
  },
  {
    name: 'pretenuring-left-on',
    breaks:
      "the service leaves V8's allocation-site pretenuring on, so a fresh process under a crowd can get stuck allocating request objects in the old generation",
    edits: [
      {
        file: 'src/main.ts',
        search: "import './lifecycle/v8-flags';",
        replace: '',
      },
    ],
    killedBy: [{ file: 'test/runtime.e2e-spec.ts', name: 'pretenuring' }],
    needsBuild: true,
  },
  {
    name: 'hook-per-observer',
    breaks:
      'every observer of answered requests (the request line, the histogram) gets an onResponse hook of its own, each reading request.routeOptions again',
    edits: [
      {
        file: 'src/common/answered-requests.ts',
        search: '  if (known) {',
        replace: '  if (known && false) {',
      },
    ],
    killedBy: [{ file: 'src/common/answered-requests.spec.ts', name: 'one onResponse hook' }],
  },
];

export const occurrences = (text: string, search: string) => (search === '' ? 0 : text.split(search).length - 1);

/** Every edit's search text must occur exactly once in its file, as the file is in `root`. */
export function problemsOf(mutants: Mutant[], root: string): string[] {
  const problems: string[] = [];
  for (const mutant of mutants) {
    for (const edit of mutant.edits) {
      const path = join(root, edit.file);
      if (!existsSync(path)) {
        problems.push(`${mutant.name}: ${edit.file} does not exist`);
        continue;
      }
      const found = occurrences(readFileSync(path, 'utf8'), edit.search);
      if (found !== 1)
        problems.push(
          `${mutant.name}: search text found ${found} times in ${edit.file} (must be exactly once): ${JSON.stringify(edit.search.slice(0, 80))}`,
        );
    }
    for (const run of mutant.killedBy) {
      if (!existsSync(join(root, run.file))) problems.push(`${mutant.name}: test file ${run.file} does not exist`);
    }
  }
  return problems;
}
