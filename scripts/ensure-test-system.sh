#!/usr/bin/env bash
# What the test suite needs beyond npm, installed from Debian when missing. `npm test` runs this
# first (its `pretest`), so `.ci/run` and a fresh clone get the same machine:
#   chromium    the HTML-report and API-docs browser tests (/usr/bin/chromium)
#   prometheus  the monitoring test's promtool and its own Prometheus (/usr/bin/promtool, prometheus)
#   faketime    fault scenario 13's wall-clock jump (libfaketimeMT.so.1)
# When everything is present it only looks at four paths and exits. It never fails the run:
# if apt-get cannot install a package, it says so and the tests that need it fail (they never skip).
# TEST_SYSTEM_ROOT prefixes the paths it looks at (only its own test sets it).
set -uo pipefail

root="${TEST_SYSTEM_ROOT:-}"
log="${TEST_SYSTEM_APT_LOG:-/tmp/ensure-test-system-apt.log}"

present() { # package -> 0 when what the tests use from it is on disk
  case "$1" in
    chromium) [ -x "$root/usr/bin/chromium" ] ;;
    prometheus) [ -x "$root/usr/bin/prometheus" ] && [ -x "$root/usr/bin/promtool" ] ;;
    faketime) compgen -G "$root/usr/lib/*/faketime/libfaketimeMT.so.1" >/dev/null ;;
    *) return 1 ;;
  esac
}

missing=()
for package in chromium prometheus faketime; do
  present "$package" || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "test system: missing ${missing[*]}; run as root (or with passwordless sudo): apt-get install ${missing[*]}" >&2
    exit 0
  fi
fi

echo "test system: installing ${missing[*]} from Debian (apt log: $log)"
# Another apt-get on the machine holds dpkg's lock for a while: wait for it rather than fail.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "test system: apt-get failed (see $log)" >&2
fi
for package in "${missing[@]}"; do
  present "$package" || echo "test system: $package is still missing; the tests that need it will fail" >&2
done
exit 0
