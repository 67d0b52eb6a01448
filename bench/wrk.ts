import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkRequest {
  method?: 'GET' | 'POST';
  body?: unknown;
  token?: string;
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** CPU time (user + system) the server process `pid` spent per request during the run, in microseconds. */
  cpuUsPerRequest?: number;
  /** Connect, read, write and timeout errors wrk counted. */
  errors: number;
}

/** wrk's defaults for the rows of record: 2 threads (one per core of the machine), 256 connections, as the issue measured. */
export const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 2) || 2;
export const WRK_CONNECTIONS = Number(process.env.BENCH_WRK_CONNECTIONS ?? 256) || 256;
export const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 4) || 4;

/** Runs wrk (Debian's `wrk` package) against `url` for `seconds`; a POST's body and token go through a Lua script. */
/** Fails at once, not after the rows before it, when wrk is not installed. */
export function requireWrk(): void {
  if (spawnSync('wrk', ['-v']).error) throw new Error('wrk is not installed: apt-get install -y wrk (Debian)');
}

/** A process's CPU time so far (utime + stime from /proc/<pid>/stat), in microseconds; 10 ms resolution. */
export function cpuTimeUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // Fields 14 and 15 (utime, stime) in clock ticks; after the ")" the fields start at 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
}

export async function runWrk(url: string, request: WrkRequest = {}, seconds = WRK_SECONDS, serverPid?: number): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const script = join(dir, 'request.lua');
  const lines = [`wrk.method = "${request.method ?? 'GET'}"`];
  if (request.body !== undefined) {
    lines.push(`wrk.body = ${JSON.stringify(JSON.stringify(request.body))}`, 'wrk.headers["Content-Type"] = "application/json"');
  }
  if (request.token) lines.push(`wrk.headers["Authorization"] = "Bearer ${request.token}"`);
  writeFileSync(script, lines.join('\n') + '\n');
  try {
    const cpuBefore = serverPid ? cpuTimeUs(serverPid) : 0;
    const args = ['-t', String(WRK_THREADS), '-c', String(WRK_CONNECTIONS), '-d', `${seconds}s`, '-s', script, url];
    const output = await new Promise<string>((resolve, reject) =>
      execFile('wrk', args, { timeout: (seconds + 30) * 1000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`wrk failed: ${error.message} ${stderr}`)) : resolve(stdout),
      ),
    );
    const cpuUs = serverPid ? cpuTimeUs(serverPid) - cpuBefore : 0;
    const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
    const total = /(\d+) requests in/.exec(output);
    if (!rate || !total) throw new Error(`wrk printed no rate:\n${output}`);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
    const requests = Number(total[1]);
    return {
      requestsPerSecond: Math.round(Number(rate[1])),
      requests,
      cpuUsPerRequest: serverPid && requests > 0 ? Math.round((10 * cpuUs) / requests) / 10 : undefined,
      errors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
