import { join } from 'node:path';
import { MUTANTS, problemsOf } from './mutant-list';

/** The mutants of `npm run mutants` still match the code: a change that moves a mutated line fails here, not silently later. */
describe('the mutant list', () => {
  it('every search text occurs exactly once in its file, and every named test file exists', () => {
    expect(problemsOf(MUTANTS, join(__dirname, '..'))).toEqual([]);
  });

  it('has at least 10 mutants, each with a unique name and a test that must kill it', () => {
    expect(MUTANTS.length).toBeGreaterThanOrEqual(10);
    expect(new Set(MUTANTS.map((m) => m.name)).size).toBe(MUTANTS.length);
    for (const mutant of MUTANTS) expect(mutant.killedBy.length).toBeGreaterThan(0);
  });
});
