import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MUTANTS, Mutant, occurrences, problemsOf } from './mutant-list';

/**
 * `npm run mutants`: proves the tests by breaking the code they guard. Each named mutant
 * (scripts/mutant-list.ts) is applied alone to a scratch copy of the project (the working tree
 * is never touched), the tests it names run there, and the mutant counts as killed when one of
 * them fails. Ends with `K of N mutants killed` and exits 1 unless every mutant was killed.
 *
 *   npm run mutants                     every mutant (first the named tests, unmutated, must pass)
 *   npm run mutants -- --only a,b       only these mutants
 *   npm run mutants -- --check          only check that every search text occurs exactly once
 *   npm run mutants -- --skip-baseline  do not run the unmutated tests first
 *   npm run mutants -- --max-workers N  jest workers per run (default 1: the machine is shared)
 */

const PROJECT = resolve(__dirname, '..', '..');
/** A run longer than this is stopped and counts as killed: a mutant that hangs a test is caught. */
const RUN_TIMEOUT_MS = 10 * 60_000;

interface Options {
  only: string[] | null;
  check: boolean;
  baseline: boolean;
  maxWorkers: number;
}

interface JestRun {
  file: string;
  name?: string;
}

interface RunResult {
  passed: boolean;
  timedOut: boolean;
  /** Tests that ran (not skipped by the name pattern). */
  ran: number;
  failedTests: string[];
  /** Suites that failed to run at all (a syntax error, a missing module): the mutant is broken, not killed. */
  suiteErrors: string[];
  log: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { only: null, check: false, baseline: true, maxWorkers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--only') options.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg === '--check') options.check = true;
    else if (arg === '--skip-baseline') options.baseline = false;
    else if (arg === '--max-workers') options.maxWorkers = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg} (see scripts/mutants.ts)`);
  }
  if (!Number.isInteger(options.maxWorkers) || options.maxWorkers < 1) throw new Error('--max-workers takes a positive integer');
  return options;
}

function selectMutants(options: Options): Mutant[] {
  const all = MUTANTS;
  const names = new Set(all.map((m) => m.name));
  if (names.size !== all.length) throw new Error('two mutants share a name');
  if (!options.only) return all;
  const unknown = options.only.filter((name) => !names.has(name));
  if (unknown.length > 0) throw new Error(`no mutant named ${unknown.join(', ')}`);
  return all.filter((m) => options.only!.includes(m.name));
}

/** The project's files (tracked, and new ones not ignored) copied to a temporary folder; node_modules linked. */
function scratchCopy(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'coupons-mutants-'));
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: PROJECT,
    maxBuffer: 64 << 20,
  })
    .toString()
    .split('\0')
    .filter((file) => file && file !== 'node_modules' && existsSync(join(PROJECT, file)));
  try {
    for (const file of new Set(listed)) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      cpSync(join(PROJECT, file), join(scratch, file));
    }
    symlinkSync(join(PROJECT, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    return scratch;
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
}

/** Applies the mutant's edits in `root`; returns how to put the files back. */
function apply(mutant: Mutant, root: string): () => void {
  const originals = new Map<string, string>();
  for (const edit of mutant.edits) {
    const path = join(root, edit.file);
    const text = readFileSync(path, 'utf8');
    if (!originals.has(path)) originals.set(path, text);
    if (occurrences(text, edit.search) !== 1) throw new Error(`${mutant.name}: search text not found exactly once in ${edit.file}`);
    writeFileSync(
      path,
      text.replace(edit.search, () => edit.replace),
    );
  }
  return () => originals.forEach((text, path) => writeFileSync(path, text));
}

function build(root: string): void {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}

interface JestReport {
  numTotalTests: number;
  numPendingTests: number;
  testResults: { name: string; status: string; message: string; assertionResults: { fullName: string; status: string }[] }[];
}

function runJest(root: string, run: JestRun, maxWorkers: number, logFile: string): Promise<RunResult> {
  const jsonFile = `${logFile}.json`;
  const args = [
    join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--runTestsByPath',
    run.file,
    `--maxWorkers=${maxWorkers}`,
    '--forceExit',
    '--json',
    `--outputFile=${jsonFile}`,
  ];
  if (run.name) args.push('-t', run.name);
  rmSync(jsonFile, { force: true });
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    // Stopped by its own process group id: the jest run and whatever it started, nothing else.
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, RUN_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      writeFileSync(logFile, output);
      const report: JestReport | null = existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as JestReport) : null;
      const assertions = report?.testResults.flatMap((suite) => suite.assertionResults) ?? [];
      const suiteErrors = (report?.testResults ?? [])
        .filter((suite) => suite.status === 'failed' && suite.assertionResults.length === 0)
        .map((suite) => `${suite.name}: ${suite.message.split('\n').find((line) => line.trim()) ?? 'failed to run'}`);
      done({
        passed: code === 0 && !timedOut,
        timedOut,
        ran: report ? report.numTotalTests - report.numPendingTests : 0,
        failedTests: assertions.filter((a) => a.status === 'failed').map((a) => a.fullName),
        suiteErrors: report || timedOut ? suiteErrors : [`jest wrote no report (exit ${code}); see ${logFile}`],
        log: logFile,
      });
    });
  });
}

const describeRun = (run: JestRun) => (run.name ? `${run.file} -t "${run.name}"` : run.file);

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const mutants = selectMutants(options);
  const problems = problemsOf(mutants, PROJECT);
  if (problems.length > 0) {
    console.error(`mutants out of date with the code:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  if (options.check) {
    console.log(`${mutants.length} mutants: every search text occurs exactly once`);
    return 0;
  }

  const started = performance.now();
  const scratch = scratchCopy();
  const logs = mkdtempSync(join(tmpdir(), 'coupons-mutants-logs-'));
  console.log(`scratch copy ${scratch}; logs in ${logs}`);
  try {
    if (mutants.some((m) => m.needsBuild)) build(scratch);
    if (options.baseline) {
      const runs = new Map<string, JestRun>();
      for (const mutant of mutants) for (const run of mutant.killedBy) runs.set(describeRun(run), run);
      let i = 0;
      for (const [label, run] of runs) {
        const result = await runJest(scratch, run, options.maxWorkers, join(logs, `baseline-${++i}.log`));
        if (!result.passed || result.ran === 0) {
          const why = result.ran === 0 ? 'no test matched' : [...result.failedTests, ...result.suiteErrors].join('; ') || 'failed';
          console.error(`baseline: ${label} must pass unmutated but did not (${why}); see ${result.log}`);
          return 1;
        }
        console.log(`baseline ok   ${label} (${result.ran} tests)`);
      }
    }

    let killed = 0;
    const broken: string[] = [];
    for (const mutant of mutants) {
      const restore = apply(mutant, scratch);
      let verdict = `SURVIVED  ${mutant.name}: ${mutant.breaks}`;
      try {
        if (mutant.needsBuild) build(scratch);
        for (const [i, run] of mutant.killedBy.entries()) {
          const result = await runJest(scratch, run, options.maxWorkers, join(logs, `${mutant.name}-${i + 1}.log`));
          if (result.suiteErrors.length > 0) {
            broken.push(mutant.name);
            verdict = `BROKEN    ${mutant.name}: a test suite could not run (${result.suiteErrors.join('; ')})`;
            break;
          }
          if (result.passed && result.ran === 0) {
            broken.push(mutant.name);
            verdict = `BROKEN    ${mutant.name}: no test of ${describeRun(run)} ran`;
            break;
          }
          if (!result.passed) {
            killed++;
            const by = result.timedOut
              ? `timed out after ${RUN_TIMEOUT_MS / 60_000} min`
              : result.failedTests
                  .slice(0, 3)
                  .map((t) => `"${t}"`)
                  .join(', ');
            verdict = `killed    ${mutant.name} by ${describeRun(run)}: ${by}`;
            break;
          }
        }
      } finally {
        restore();
      }
      console.log(verdict);
    }
    if (broken.length > 0) console.log(`broken mutants (fix them, they prove nothing): ${broken.join(', ')}`);
    console.log(`took ${((performance.now() - started) / 60_000).toFixed(1)} min with --max-workers ${options.maxWorkers}`);
    console.log(`${killed} of ${mutants.length} mutants killed`);
    return killed === mutants.length ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
