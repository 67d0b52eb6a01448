import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * The folder-level import graph of the service (src/, one node per feature folder) and the
 * tools (harness/, stress-test/, bench/, scripts/, test/, test/support/, migrations/).
 * `npm run import-graph` prints it and exits 1 if any folders import each other in a circle;
 * scripts/import-graph.spec.ts runs the same check in the test suite.
 */

/** Top-level folders the graph reads; node_modules and dist are never entered. */
const ROOTS = ['src', 'migrations', 'harness', 'stress-test', 'bench', 'scripts', 'test'];
/** Under these, each sub-folder is its own node (src/auth, test/support); files directly inside belong to the root. */
const SPLIT_ROOTS = new Set(['src', 'test']);

export type ImportGraph = Map<string, Set<string>>;

/** The node a file belongs to: `src/auth` for src/auth/auth.service.ts, `harness` for harness/x.ts. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  if (SPLIT_ROOTS.has(parts[0]) && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

function sourceFiles(projectRoot: string, folder: string): string[] {
  const dir = join(projectRoot, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(projectRoot, path)).isDirectory()) return sourceFiles(projectRoot, path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The project file a relative specifier names (with or without .ts, or a folder's index.ts), or null for a package. */
function resolveImport(projectRoot: string, fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(projectRoot, dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(projectRoot, candidate).split(sep).join('/');
  }
  return null;
}

/** Every folder-to-folder import edge (imports within one folder are not edges). */
export function importGraph(projectRoot: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of ROOTS.flatMap((root) => sourceFiles(projectRoot, root)).map((f) => f.split(sep).join('/'))) {
    const from = folderOf(file);
    if (!graph.has(from)) graph.set(from, new Set());
    const { importedFiles } = ts.preProcessFile(readFileSync(join(projectRoot, file), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      const target = resolveImport(projectRoot, file, fileName);
      if (target && folderOf(target) !== from) graph.get(from)!.add(folderOf(target));
    }
  }
  return graph;
}

/** The circles of the graph: each set of folders that reach one another (Tarjan's strongly connected components of two or more). */
export function cyclesOf(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/** The part of the graph among the nodes `keep` accepts. */
export function subgraph(graph: ImportGraph, keep: (node: string) => boolean): ImportGraph {
  return new Map([...graph].filter(([node]) => keep(node)).map(([node, targets]) => [node, new Set([...targets].filter(keep))]));
}

export const isServiceFolder = (node: string) => node === 'src' || node.startsWith('src/');

/** Edges that go from the service into a tool folder (the service must not depend on its tools). */
export function serviceToToolEdges(graph: ImportGraph): string[] {
  return [...graph]
    .filter(([node]) => isServiceFolder(node))
    .flatMap(([node, targets]) => [...targets].filter((t) => !isServiceFolder(t) && t !== 'migrations').map((t) => `${node} -> ${t}`));
}

/** One line per folder: `bench -> harness, src/config`; then the circles, if any. */
export function renderGraph(graph: ImportGraph): string {
  const lines = [...graph.keys()].sort().map((node) => `${node} -> ${[...graph.get(node)!].sort().join(', ') || '(nothing)'}`);
  const cycles = cyclesOf(graph);
  const wrongWay = serviceToToolEdges(graph);
  lines.push('', cycles.length === 0 ? 'no cycles' : `${cycles.length} cycle(s):`);
  for (const cycle of cycles) lines.push(`  ${cycle.join(' <-> ')}`);
  if (wrongWay.length > 0) lines.push(`the service imports a tool: ${wrongWay.join('; ')}`);
  return lines.join('\n');
}

if (require.main === module) {
  // Compiled to dist/scripts/import-graph.js; the project root is two folders up either way.
  const projectRoot = resolve(__dirname, existsSync(resolve(__dirname, '..', 'package.json')) ? '..' : '../..');
  const graph = importGraph(projectRoot);
  process.stdout.write(`${renderGraph(graph)}\n`);
  process.exit(cyclesOf(graph).length === 0 && serviceToToolEdges(graph).length === 0 ? 0 : 1);
}
