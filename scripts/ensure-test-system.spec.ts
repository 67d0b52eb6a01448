import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/ensure-test-system.sh decides what to install by looking at paths; it is run here
 * against a stand-in file system (TEST_SYSTEM_ROOT) with a stand-in apt-get on PATH that records
 * what it was asked and "installs" by creating the files a Debian package would, so nothing on
 * the shared machine is removed or installed.
 */
const SCRIPT = join(__dirname, 'ensure-test-system.sh');

/** The files each Debian package puts where the script (and the tests) look. */
const FILES: Record<string, string[]> = {
  chromium: ['usr/bin/chromium'],
  prometheus: ['usr/bin/prometheus', 'usr/bin/promtool'],
  faketime: ['usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1'],
};

function executable(path: string, text = '#!/bin/sh\nexit 0\n'): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

describe('scripts/ensure-test-system.sh', () => {
  let dir: string;
  let root: string;
  let bin: string;
  const calls = () => readFileSync(join(dir, 'apt-calls'), 'utf8').trim().split('\n').filter(Boolean);

  function run(env: Record<string, string> = {}) {
    const result = spawnSync('bash', [SCRIPT], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin`, TEST_SYSTEM_ROOT: root, TEST_SYSTEM_APT_LOG: join(dir, 'apt.log'), STUB_DIR: dir, ...env },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ensure-test-system-'));
    root = join(dir, 'root');
    bin = join(dir, 'bin');
    mkdirSync(root);
    writeFileSync(join(dir, 'apt-calls'), '');
    const files = Object.entries(FILES)
      .map(
        ([name, paths]) =>
          `[ "$a" = ${name} ] && for f in ${paths.join(' ')}; do mkdir -p "$(dirname "$TEST_SYSTEM_ROOT/$f")"; printf '#!/bin/sh\\n' > "$TEST_SYSTEM_ROOT/$f"; chmod +x "$TEST_SYSTEM_ROOT/$f"; done`,
      )
      .join('\n');
    // Records its arguments; on `install` creates the packages' files unless told to fail.
    executable(
      join(bin, 'apt-get'),
      `#!/bin/bash\necho "$*" >> "$STUB_DIR/apt-calls"\n[ -n "\${STUB_APT_FAILS:-}" ] && exit 100\nfor a in "$@"; do\n${files}\ndone\nexit 0\n`,
    );
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does nothing when every package is present', () => {
    for (const path of Object.values(FILES).flat()) executable(join(root, path));
    const started = Date.now();
    const result = run();
    expect({ ...result, calls: calls() }).toEqual({ status: 0, stdout: '', stderr: '', calls: [] });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('installs exactly the missing packages, in one apt-get install, after an update', () => {
    for (const path of FILES.prometheus) executable(join(root, path));
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('installing chromium faketime');
    expect(result.stderr).toBe('');
    expect(calls()).toEqual([
      '-o DPkg::Lock::Timeout=300 -q update',
      '-o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends chromium faketime',
    ]);
    // Run again: all present now, so no apt-get.
    writeFileSync(join(dir, 'apt-calls'), '');
    expect(run()).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(calls()).toEqual([]);
  });

  it('counts prometheus as missing when promtool alone is absent', () => {
    for (const path of [...FILES.chromium, ...FILES.faketime, 'usr/bin/prometheus']) executable(join(root, path));
    expect(run().status).toBe(0);
    expect(calls()[1]).toBe('-o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends prometheus');
  });

  it('never fails the run when apt-get fails, and names what is still missing', () => {
    const result = run({ STUB_APT_FAILS: '1' });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('apt-get failed');
    for (const name of Object.keys(FILES)) expect(result.stderr).toContain(`${name} is still missing`);
  });

  it('as a user without root or sudo, names the command to run instead of calling apt-get', () => {
    executable(join(bin, 'id'), '#!/bin/sh\necho 1000\n');
    executable(join(bin, 'sudo'), '#!/bin/sh\nexit 1\n');
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('apt-get install chromium prometheus faketime');
    expect(calls()).toEqual([]);
  });
});
