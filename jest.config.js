const { existsSync, readdirSync, readFileSync, realpathSync } = require('node:fs');
const { join } = require('node:path');

/**
 * The folders of installed packages that are ES modules (`"type": "module"`, e.g. NestJS 12),
 * nested node_modules included. Jest 29 loads modules as CommonJS, so these go through the same
 * SWC transform as the TypeScript; every other package is loaded untransformed. Read from disk,
 * so a package that turns ESM-only in an upgrade is picked up without a list to keep.
 */
function esModuleFolders(nodeModules) {
  const found = [];
  if (!existsSync(nodeModules)) return found;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const folders = entry.startsWith('@')
      ? readdirSync(join(nodeModules, entry)).map((name) => join(nodeModules, entry, name))
      : [join(nodeModules, entry)];
    for (const folder of folders) {
      try {
        // Jest sees real paths: a node_modules reached through a link (npm run mutants' scratch copy) is matched by them.
        if (JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).type === 'module') found.push(realpathSync(folder));
      } catch {
        continue; // not a package folder
      }
      found.push(...esModuleFolders(join(folder, 'node_modules')));
    }
  }
  return found;
}

const swc = (syntax) => [
  '@swc/jest',
  {
    jsc: {
      parser: syntax === 'typescript' ? { syntax, decorators: true } : { syntax },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const escape = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Tests run TypeScript through SWC (no type-check: `npm run build` type-checks first). */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
    '<rootDir>/harness/**/*.spec.ts',
    '<rootDir>/bench/**/*.spec.ts',
    '<rootDir>/scripts/**/*.spec.ts',
  ],
  transform: {
    '^.+\\.ts$': swc('typescript'),
    '^.+\\.m?js$': swc('ecmascript'),
  },
  // Anything under node_modules is loaded as it is, unless it lies in an ES module package's folder.
  transformIgnorePatterns: [`^(?!(?:${esModuleFolders(join(__dirname, 'node_modules')).map(escape).join('|')})/).*/node_modules/`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
