/**
 * Ends every jest run with the plain line CI reads: "N passed, N failed", after the Node that
 * ran the tests (the project pins its own: package.json's devDependency `node`).
 * A suite that crashed before its tests ran counts as a failure.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '');
    process.stdout.write(`\nran on Node ${process.version} (${process.execPath})\n${line}\n`);
  }
}
module.exports = SummaryReporter;
