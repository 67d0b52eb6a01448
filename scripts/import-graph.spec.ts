import { join } from 'node:path';
import { ImportGraph, cyclesOf, importGraph, isServiceFolder, serviceToToolEdges, subgraph } from './import-graph';

const graph = importGraph(join(__dirname, '..'));
/** Each circle as `a <-> b <-> c`, so a failure names the folders. */
const circles = (g: ImportGraph) => cyclesOf(g).map((cycle) => cycle.join(' <-> '));

describe('the folder-level import graph (npm run import-graph)', () => {
  it('reads the real imports: a command imports the harness, the harness the service', () => {
    expect([...graph.get('stress-test')!]).toContain('harness');
    expect([...graph.get('harness')!]).toContain('src/config');
    expect([...graph.get('test')!]).toContain('test/support');
  });

  it('finds a circle, however long, and only circles', () => {
    const planted: ImportGraph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set()],
    ]);
    expect(cyclesOf(planted)).toEqual([['a', 'b', 'c']]);
    planted.get('c')!.delete('a');
    expect(cyclesOf(planted)).toEqual([]);
  });

  it('the tools (harness, stress-test, bench, scripts, test) import each other in no circle', () => {
    expect(circles(subgraph(graph, (node) => !isServiceFolder(node)))).toEqual([]);
  });

  it('the service imports no tool folder, so no circle can run through src and the tools', () => {
    expect(serviceToToolEdges(graph)).toEqual([]);
  });

  it('the service folders (src/*) import each other in no circle', () => {
    expect(circles(subgraph(graph, isServiceFolder))).toEqual([]);
  });
});
