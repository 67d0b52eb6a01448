import { createConfig, lintFromString } from '@redocly/openapi-core';
import { RulesetDefinition, Spectral } from '@stoplight/spectral-core';
import { oas } from '@stoplight/spectral-rulesets';

/** One finding of a linter, reduced to what a test can compare: rule, severity, where, what. */
export interface LintProblem {
  linter: 'spectral' | 'redocly';
  rule: string;
  severity: 'error' | 'warning' | 'info' | 'hint';
  where: string;
  message: string;
}

const SPECTRAL_SEVERITY = ['error', 'warning', 'info', 'hint'] as const;

/** Spectral with its `spectral:oas` ruleset, as `spectral lint` runs it by default. */
export async function spectralProblems(document: object): Promise<LintProblem[]> {
  const spectral = new Spectral();
  spectral.setRuleset(oas as RulesetDefinition);
  const results = await spectral.run(JSON.stringify(document, null, 2));
  return results.map((result) => ({
    linter: 'spectral',
    rule: String(result.code),
    severity: SPECTRAL_SEVERITY[result.severity],
    where: result.path.join('.'),
    message: result.message,
  }));
}

/** Redocly's `recommended` ruleset, as `redocly lint` runs it without a config file. */
export async function redoclyProblems(document: object): Promise<LintProblem[]> {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: JSON.stringify(document, null, 2), absoluteRef: 'openapi.json', config });
  return problems.map((problem) => ({
    linter: 'redocly',
    rule: problem.ruleId,
    severity: problem.severity === 'error' ? 'error' : 'warning',
    where: problem.location.map((l) => l.pointer ?? '').join(' '),
    message: problem.message,
  }));
}
