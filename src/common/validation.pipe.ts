import { ArgumentMetadata, Injectable, PipeTransform, ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError } from './domain-error';

function flatten(errors: ValidationError[], parent = ''): { field: string; problems: string[] }[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** No DTO nests deeper than this; deeper bodies would only feed the recursive transformers. */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `limit`, measured without recursion. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

const VALIDATED_ONCE_PER_BODY = new Set<object>();
const MEMO_MAX_BODY_CHARS = 512;
const MEMO_ENTRIES_PER_DTO = 1000;
/** Validated bodies per marked DTO, by JSON text. Validation is pure, so one memo serves every pipe. */
const VALIDATED_BODIES = new Map<object, Map<string, object>>();

/**
 * A fresh DTO instance for a body this process has already validated for `dto`, or undefined
 * (never validated, or not a marked DTO): the caller must then run the real validation.
 */
export function previouslyValidatedBody<T extends object>(dto: new () => T, value: unknown): T | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return rememberedBody(dto, JSON.stringify(value));
}

/** A fresh instance (handlers may change what they get) of the body remembered under `key`. */
function rememberedBody<T extends object>(dto: new () => T, key: string): T | undefined {
  const known = VALIDATED_BODIES.get(dto)?.get(key);
  return known ? Object.assign(new dto(), known) : undefined;
}

/**
 * Marks a hot, flat DTO whose validators are pure and whose bodies hold nothing secret: a body
 * seen before (same JSON text) is answered from the first validation. In a flash sale
 * thousands of users send the same `{"coupon_name":"FLASH50"}`; validating it each time was
 * ~10% of the CPU of a sold-out answer. Failures are never remembered, so bad input always
 * gets the full check and its details. Not for credentials: they would stay in memory.
 */
export function ValidatedOncePerBody(): ClassDecorator {
  return (target) => void VALIDATED_ONCE_PER_BODY.add(target);
}

/**
 * The contract's validation: unknown fields and wrong types are 400 VALIDATION_FAILED with
 * per-field details; no implicit conversion, so "5" is not a number.
 */
@Injectable()
export class RequestValidationPipe implements PipeTransform {
  private readonly inner = new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      const summary = details.map((d) => `${d.field}: ${d.problems.join(', ')}`).join('; ');
      return new DomainError('VALIDATION_FAILED', summary || 'Invalid request', undefined, details);
    },
  });

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const isDto = metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object;
    // A JSON array, string or number where an object belongs is a client error, not a crash.
    if (isDto && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new DomainError('VALIDATION_FAILED', 'Request body must be a JSON object');
    }
    // Nest's and class-transformer's walks are recursive: a 5,000-deep array overflowed the stack (500).
    if (isDto && nestsDeeperThan(value, MAX_BODY_DEPTH)) {
      throw new DomainError('VALIDATION_FAILED', `Request body nests deeper than ${MAX_BODY_DEPTH} levels`);
    }
    if (isDto && VALIDATED_ONCE_PER_BODY.has(metadata.metatype)) return this.validatedOnce(value as object, metadata);
    return this.inner.transform(value, metadata);
  }

  private async validatedOnce(value: object, metadata: ArgumentMetadata): Promise<unknown> {
    const dto = metadata.metatype as new () => object;
    const key = JSON.stringify(value);
    if (key.length > MEMO_MAX_BODY_CHARS) return this.inner.transform(value, metadata);
    const known = rememberedBody(dto, key);
    if (known) return known;
    const result = (await this.inner.transform(value, metadata)) as object;
    // Only flat results are kept: a nested object would be shared between requests.
    if (Object.values(result).every((field) => field === null || typeof field !== 'object')) {
      let memo = VALIDATED_BODIES.get(dto);
      if (!memo) VALIDATED_BODIES.set(dto, (memo = new Map<string, object>()));
      if (memo.size >= MEMO_ENTRIES_PER_DTO) memo.delete(memo.keys().next().value!);
      memo.set(key, { ...result });
    }
    return result;
  }
}
