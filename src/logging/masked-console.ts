import { maskCredentials } from '../config/credentials';

/**
 * Masks URL passwords in everything written through process.stdout and process.stderr: what
 * Nest's console logger prints before the app's own logger takes over (a module that fails to
 * start is printed whole, with any URL its error quotes). pino writes to the file descriptor
 * directly, so request lines never pass here. Installed by the entry points (main.ts, cluster.ts).
 */
export function maskConsoleOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = (chunk: unknown, ...rest: unknown[]) =>
      write(
        typeof chunk === 'string' ? maskCredentials(chunk) : Buffer.isBuffer(chunk) ? maskCredentials(chunk.toString('utf8')) : chunk,
        ...rest,
      );
  }
}
