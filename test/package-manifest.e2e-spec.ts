import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { subset, satisfies } from 'semver';

/**
 * What package.json and package-lock.json promise, checked against what they hold: the Node
 * range is true for every package the service runs with, the lockfile lists every platform's
 * optional packages (`npm ci` on another OS or CPU needs them), and the service's own code
 * uses production dependencies only, so `npm prune --omit=dev` cannot take away what it runs.
 */
const ROOT = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));

interface LockedPackage {
  version: string;
  dev?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
const locked = Object.entries(lock.packages as Record<string, LockedPackage>).filter(([path]) => path !== '');

/** Every .ts file under a folder, tests excluded. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The package each bare specifier names ('@scope/name/sub' -> '@scope/name'); relative paths are not packages. */
function packagesImportedBy(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // `import type` is erased by the compiler: it needs the types at build time only.
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+'([^']+)'/gm),
    ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...text.matchAll(/\b(?:require|require\.resolve|import)\(\s*'([^']+)'\s*\)/g),
  ].map((match) => match[1]);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]));
}

describe('package.json engines', () => {
  const range: string = manifest.engines.node;

  it('includes the Node this machine and CI run', () => {
    expect({ node: process.version, range, ok: satisfies(process.version, range) }).toEqual({ node: process.version, range, ok: true });
  });

  it('is no wider than what any production package accepts', () => {
    const narrower = locked
      .filter(([, pkg]) => !pkg.dev && pkg.engines && !Array.isArray(pkg.engines) && pkg.engines.node)
      .filter(([, pkg]) => !subset(range, (pkg.engines as { node: string }).node))
      .map(([path, pkg]) => `${path}@${pkg.version} wants node ${(pkg.engines as { node: string }).node}`);
    expect(narrower).toEqual([]);
  });
});

describe('package-lock.json', () => {
  it('is the lockfile of this package.json (the same dependencies, each in the right group)', () => {
    const root = lock.packages[''];
    expect(root.dependencies).toEqual(manifest.dependencies);
    expect(root.devDependencies).toEqual(manifest.devDependencies);
    expect(root.engines).toEqual(manifest.engines);
  });

  it("lists every platform's optional packages, so npm ci works on every OS and CPU", () => {
    const paths = new Set(locked.map(([path]) => path));
    const missing: string[] = [];
    for (const [path, pkg] of locked) {
      for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
        // npm resolves a dependency in the package's own node_modules first, then in each folder above.
        const candidates = [`${path}/node_modules/${name}`, `node_modules/${name}`];
        if (!candidates.some((candidate) => paths.has(candidate))) missing.push(`${name} (optional for ${path})`);
      }
    }
    expect(missing).toEqual([]);
    // The native packages the service and its tests load on Linux x64/arm64 and macOS.
    for (const platform of ['darwin-arm64', 'darwin-x64', 'linux-arm64-gnu', 'linux-x64-gnu', 'linux-arm64-musl', 'linux-x64-musl']) {
      expect(paths.has(`node_modules/@swc/core-${platform}`)).toBe(true);
    }
  });
});

describe('native code', () => {
  it('only bcrypt builds native code at install, and it carries binaries for Linux x64/arm64 (glibc, musl) and macOS', () => {
    const native = locked.filter(([, pkg]) => !pkg.dev && (pkg as { hasInstallScript?: boolean }).hasInstallScript).map(([path]) => path);
    // @scarf/scarf's install script only reports download counts; nothing is compiled.
    expect(native.sort()).toEqual(['node_modules/@scarf/scarf', 'node_modules/bcrypt']);
    // bcrypt ships its prebuilt binaries inside its own tarball (node-gyp-build), not as optional packages.
    const prebuilds = join(ROOT, 'node_modules', 'bcrypt', 'prebuilds');
    for (const [platform, file] of [
      ['linux-x64', 'bcrypt.glibc.node'],
      ['linux-x64', 'bcrypt.musl.node'],
      ['linux-arm64', 'bcrypt.glibc.node'],
      ['linux-arm64', 'bcrypt.musl.node'],
      ['darwin-arm64', 'bcrypt.node'],
      ['darwin-x64', 'bcrypt.node'],
    ]) {
      expect({ platform, file, present: readdirSync(join(prebuilds, platform)).includes(file) }).toEqual({ platform, file, present: true });
    }
  });
});

describe('only what runs ships', () => {
  const dependencies = Object.keys(manifest.dependencies);
  const devDependencies = Object.keys(manifest.devDependencies);

  it('the service (src/ and migrations/) imports production dependencies only', () => {
    const wrong: string[] = [];
    for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'migrations'))]) {
      for (const name of packagesImportedBy(file)) {
        if (!dependencies.includes(name))
          wrong.push(`${relative(ROOT, file)} imports ${name}${devDependencies.includes(name) ? ' (a devDependency)' : ''}`);
      }
    }
    // src/logging/request-logging.ts names pino-pretty as a transport only when it resolves.
    expect(wrong.filter((line) => line !== 'src/logging/request-logging.ts imports pino-pretty (a devDependency)')).toEqual([]);
  });

  it('no production dependency is used by the tools and tests alone', () => {
    const serviceImports = new Set(
      [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'migrations'))].flatMap((file) => packagesImportedBy(file)),
    );
    // Loaded by the packages the service imports rather than by its own code: their peer dependencies.
    const loadedByOthers = dependencies.flatMap((name) => Object.keys(lock.packages[`node_modules/${name}`].peerDependencies ?? {}));
    const unused = dependencies.filter((name) => !serviceImports.has(name) && !loadedByOthers.includes(name));
    expect(unused).toEqual([]);
    for (const tool of ['undici', 'hdr-histogram-js', 'chart.js']) expect(devDependencies).toContain(tool);
  });
});
