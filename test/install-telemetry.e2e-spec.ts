import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm ci` runs @scarf/scarf's install script (pulled in by swagger-ui-dist, under
 * @nestjs/swagger), which reports the install to scarf.sh unless the root package opts out.
 * The opt-out lives in package.json so it holds for every npm and every machine, CI and the
 * image build included, without an environment variable anyone has to remember.
 */
const ROOT = join(__dirname, '..');

describe('install-time telemetry', () => {
  it('package.json opts out of Scarf, in the field the installed @scarf/scarf reads', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(manifest.scarfSettings).toEqual({ enabled: false });
    // The opt-out test in scarf's own install script: if a new version stops reading the field, this fails.
    const report = readFileSync(join(ROOT, 'node_modules', '@scarf', 'scarf', 'report.js'), 'utf8');
    expect(report).toContain('rootPackage.scarfSettings.enabled === false');
  });
});
