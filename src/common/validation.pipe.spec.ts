import { ArgumentMetadata } from '@nestjs/common';
import { IsOptional, IsString, Validate, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';
import { DomainError } from './domain-error';
import { RequestValidationPipe, ValidatedOncePerBody } from './validation.pipe';

let checks = 0;

@ValidatorConstraint({ name: 'counted' })
class Counted implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    checks++;
    return value !== 'bad';
  }
}

@ValidatedOncePerBody()
class OncePerBody {
  @IsString() @Validate(Counted) name: string;
}

class EveryTime {
  @IsString() @Validate(Counted) name: string;
}

/** The shape of the claim body: a marked DTO with a required and an optional field. */
@ValidatedOncePerBody()
class ClaimLike {
  @IsString() coupon_name: string;
  @IsOptional() @IsString() user_id?: string;
}

const body = (metatype: object): ArgumentMetadata => ({ type: 'body', metatype: metatype as ArgumentMetadata['metatype'] });

describe('RequestValidationPipe: bodies validated once (@ValidatedOncePerBody)', () => {
  beforeEach(() => (checks = 0));

  it('validates a marked DTO once per distinct body, and hands out a fresh instance each time', async () => {
    const pipe = new RequestValidationPipe();
    const first = await pipe.transform({ name: 'FLASH50' }, body(OncePerBody));
    const second = await pipe.transform({ name: 'FLASH50' }, body(OncePerBody));
    expect(checks).toBe(1);
    expect(second).toBeInstanceOf(OncePerBody);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    await pipe.transform({ name: 'OTHER' }, body(OncePerBody));
    expect(checks).toBe(2);
  });

  it('an unmarked DTO is validated every time', async () => {
    const pipe = new RequestValidationPipe();
    await pipe.transform({ name: 'FLASH50' }, body(EveryTime));
    await pipe.transform({ name: 'FLASH50' }, body(EveryTime));
    expect(checks).toBe(2);
  });

  it('never remembers a failure, nor lets a known body with extra fields through', async () => {
    const pipe = new RequestValidationPipe();
    for (let i = 0; i < 2; i++) {
      await expect(pipe.transform({ name: 'bad' }, body(OncePerBody))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(checks).toBe(2);
    await pipe.transform({ coupon_name: 'FLASH50' }, body(ClaimLike));
    const extra = pipe.transform({ coupon_name: 'FLASH50', admin: true }, body(ClaimLike));
    await expect(extra).rejects.toBeInstanceOf(DomainError);
    await expect(extra).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'admin', problems: [expect.any(String)] }] });
    const wrongType = pipe.transform({ coupon_name: 50 }, body(ClaimLike));
    await expect(wrongType).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
