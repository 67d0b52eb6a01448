// Type-aware lint for the whole tree. The promise rules catch the bugs that cost most in this
// service (an answer sent before its commit settled, a rejection nobody awaits).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `let x!: T` read by a closure before its one assignment (a server handler and its owner).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Passing on a caught `unknown` (a batch's failure to each waiter) is not inventing a non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
    },
  },
  {
    // Tests and tools read JSON answers of the API, PostgreSQL rows and tool output: `any` by
    // nature. The service itself (src/) keeps the unsafe-any rules.
    files: [
      'test/**/*.ts',
      'harness/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.ts',
      'stress-test/**/*.ts',
      'migrations/**/*.ts',
      '**/*.spec.ts',
    ],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Test doubles implement async interfaces with values at hand.
      '@typescript-eslint/require-await': 'off',
      // Browser page evaluations, parser enums and method handles taken to be called with .call().
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      // `let x = initial` then assigned inside a try: the initial value is the fallback.
      'no-useless-assignment': 'off',
    },
  },
  {
    // The files that run raw SQL: `query()` answers `any`, and each result is typed by the row
    // interface it is assigned to, next to the statement. Everywhere else in src/ any stays out.
    files: ['src/**/*.repository.ts', 'src/claims/claim-transaction.ts', 'src/common/database-ping.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      // SqlRunner mirrors TypeORM's `query(): Promise<any>`.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
