import { LoggerService } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { maskCredentials } from '../config/credentials';

/**
 * Nest's logger (`new Logger('Context').warn(...)`) written as pino JSON lines with a
 * `context` field. Nest passes the context as the last string argument and, for errors, a
 * stack before it. URL passwords are masked in every message and stack: a driver's error may
 * quote a connection URL.
 */
export class PinoAppLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log = (message: unknown, ...rest: unknown[]): void => this.write('info', message, rest);
  fatal = (message: unknown, ...rest: unknown[]): void => this.write('fatal', message, rest);
  error = (message: unknown, ...rest: unknown[]): void => this.write('error', message, rest);
  warn = (message: unknown, ...rest: unknown[]): void => this.write('warn', message, rest);
  debug = (message: unknown, ...rest: unknown[]): void => this.write('debug', message, rest);
  verbose = (message: unknown, ...rest: unknown[]): void => this.write('trace', message, rest);

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, rest: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    const params = [...rest];
    const last = params[params.length - 1];
    // Nest puts the context last; an error logged without one ends with its stack instead.
    if (typeof last === 'string' && !(params.length === 1 && (level === 'error' || level === 'fatal') && looksLikeStack(last))) {
      fields.context = params.pop();
    }
    if (level === 'error' || level === 'fatal') {
      const stack = params.find((p): p is string => typeof p === 'string');
      if (stack) fields.stack = maskCredentials(stack);
    }
    if (message instanceof Error) {
      const err = { type: message.name, message: maskCredentials(message.message), stack: maskCredentials(message.stack ?? '') };
      this.pino[level]({ ...fields, err }, err.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...message });
    } else {
      this.pino[level](fields, maskCredentials(String(message)));
    }
  }
}

const looksLikeStack = (text: string) => /\n\s+at /.test(text);
