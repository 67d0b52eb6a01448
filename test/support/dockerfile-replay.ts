import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';

/**
 * Carries out a Dockerfile's stages without a Docker engine, the way a build would: each stage
 * gets its own folder standing for its file system, COPY takes files from the build context
 * (what .dockerignore leaves) or from an earlier stage, RUN runs in the stage's WORKDIR with its
 * ENV. What it cannot do: pull the base image (the local Node stands in for it, so the caller
 * checks the major versions agree), switch users (USER and --chown are recorded, not applied),
 * or isolate RUN from the host's absolute paths (this Dockerfile's RUN steps use relative ones).
 */

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  base: string;
  name: string;
  instructions: Instruction[];
}

/** Stages in order; comments and parser directives dropped, continuation lines joined. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim());
  const stages: Stage[] = [];
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile: cannot read "${line}"`);
    const keyword = match[1].toUpperCase();
    const args = match[2].replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ base: from[1], name: from[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    if (!stages.length) throw new Error(`Dockerfile: ${keyword} before FROM`);
    stages[stages.length - 1].instructions.push({ keyword, args });
  }
  return stages;
}

/** `KEY=value ...` of ENV (the `ENV KEY value` form too). */
function parseEnv(args: string): Record<string, string> {
  if (!args.includes('=')) {
    const [key, ...rest] = args.split(' ');
    return { [key]: rest.join(' ') };
  }
  const env: Record<string, string> = {};
  for (const match of args.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) env[match[1]] = match[3] ?? match[2];
  return env;
}

/** A shell-form command, or the JSON exec form `["node", "x.js"]`. */
export function commandOf(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : ['/bin/sh', '-c', args];
}

/**
 * .dockerignore as Docker reads it: a path is left out when it, or a folder above it, matches
 * the last pattern that decides it (`!pattern` brings a path back); `*` and `?` stay within one
 * path segment, `**` spans any number of them.
 */
export function dockerignore(text: string): ((path: string) => boolean) & { hasExceptions: boolean } {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = posix
        .normalize((include ? line.slice(1) : line).trim())
        .replace(/^\/+/, '')
        .replace(/\/+$/, '');
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  const ignored = (path: string) => {
    const segments = posix.normalize(path).replace(/^\/+/, '').split('/');
    const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((prefix) => rule.regex.test(prefix))) excluded = !rule.include;
    }
    return excluded;
  };
  return Object.assign(ignored, { hasExceptions: rules.some((rule) => rule.include) });
}

/** Copies the build context as the engine receives it: the project without what .dockerignore names. */
export function copyContext(projectDir: string, contextDir: string): void {
  const ignorePath = join(projectDir, '.dockerignore');
  const ignored = dockerignore(existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '');
  mkdirSync(contextDir, { recursive: true });
  const walk = (relative: string) => {
    for (const name of readdirSync(join(projectDir, relative))) {
      const path = relative ? `${relative}/${name}` : name;
      const isFolder = statSync(join(projectDir, path)).isDirectory();
      // An ignored folder is skipped whole unless a `!` rule could bring part of it back.
      if (isFolder && !(ignored(path) && !ignored.hasExceptions)) walk(path);
      else if (!isFolder && !ignored(path)) cpSync(join(projectDir, path), join(contextDir, path));
    }
  };
  walk('');
}

/** Runs a command to its end; rejects with its output when it fails. */
export function run(command: string[], cwd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) return resolve(output);
      // npm puts the reason first and its usage text after it: keep both ends of a long output.
      const shown = output.length > 6000 ? `${output.slice(0, 3000)}\n...\n${output.slice(-3000)}` : output;
      reject(new Error(`"${command.join(' ')}" exited with ${code} in ${cwd}:\n${shown}`));
    });
  });
}

export interface BuiltStage {
  name: string;
  base: string;
  /** The folder standing for the stage's "/". */
  root: string;
  /** WORKDIR at the end of the stage, inside the image ("/app"). */
  workdir: string;
  env: Record<string, string>;
  user?: string;
  exposed: string[];
  cmd?: string[];
  healthcheck?: string;
  /** Each RUN step and its output, in order. */
  runs: { command: string; output: string }[];
}

/**
 * Builds every stage of `dockerfile` in `buildDir` from the context folder. `hostEnv` is what the
 * base image's environment would give RUN steps (PATH to node and npm, HOME for npm's cache).
 */
export async function replayDockerfile(
  dockerfile: string,
  contextDir: string,
  buildDir: string,
  hostEnv: Record<string, string>,
): Promise<BuiltStage[]> {
  const built: BuiltStage[] = [];
  for (const stage of parseDockerfile(dockerfile)) {
    const current: BuiltStage = {
      name: stage.name,
      base: stage.base,
      root: join(buildDir, `stage-${built.length}-${stage.name}`),
      workdir: '/',
      env: {},
      exposed: [],
      runs: [],
    };
    mkdirSync(current.root, { recursive: true });
    const inImage = (path: string) => join(current.root, posix.resolve(current.workdir, path));
    for (const { keyword, args } of stage.instructions) {
      switch (keyword) {
        case 'WORKDIR':
          current.workdir = posix.resolve(current.workdir, args);
          mkdirSync(inImage('.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(current.env, parseEnv(args));
          break;
        case 'COPY': {
          const words = args.split(' ');
          const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]));
          const [dest, ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
          sources.reverse();
          let fromRoot = contextDir;
          if (flags.from !== undefined) {
            const source = built.find((s) => s.name === flags.from);
            if (!source) throw new Error(`COPY --from=${flags.from}: no earlier stage of that name`);
            fromRoot = source.root;
          }
          const intoFolder = dest.endsWith('/') || sources.length > 1;
          for (const source of sources) {
            if (/[*?[]/.test(source)) throw new Error(`COPY ${source}: wildcards are not replayed`);
            const from = join(fromRoot, posix.normalize(source));
            if (!existsSync(from))
              throw new Error(`COPY ${source}: not found in ${flags.from ? `stage ${flags.from}` : 'the build context'}`);
            const isFolder = statSync(from).isDirectory();
            const to = isFolder || !intoFolder ? inImage(dest) : join(inImage(dest), basename(source));
            // A folder's contents land in dest, as Docker does; symbolic links stay links (node_modules/.bin).
            cpSync(from, to, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          const output = await run(commandOf(args), inImage('.'), { ...hostEnv, ...current.env });
          current.runs.push({ command: args, output });
          break;
        }
        case 'USER':
          current.user = args;
          break;
        case 'EXPOSE':
          current.exposed.push(...args.split(' '));
          break;
        case 'CMD':
          current.cmd = commandOf(args);
          break;
        case 'HEALTHCHECK':
          current.healthcheck = args;
          break;
        default:
          throw new Error(`Dockerfile: ${keyword} is not replayed; teach test/support/dockerfile-replay.ts about it`);
      }
    }
    built.push(current);
  }
  return built;
}
