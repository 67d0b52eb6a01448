import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches, Validate, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';

/** bcrypt reads at most 72 bytes; a longer password is refused, never silently truncated. */
@ValidatorConstraint({ name: 'passwordBytes' })
class PasswordBytes implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const bytes = Buffer.byteLength(value, 'utf8');
    return bytes >= 8 && bytes <= 72 && !value.includes('\u0000');
  }
  defaultMessage(): string {
    return 'password must be 8 to 72 bytes (UTF-8) with no NUL character';
  }
}

/** ASCII letters, digits and _ . - only: no look-alike or invisible characters in names. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;
export const USERNAME_MESSAGE = 'username must be 3-64 characters of [A-Za-z0-9_.-]';

/** One name in any case (users_username_lower_key). ASCII only, so this is PostgreSQL's lower(). */
export const sameUsername = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export class CredentialsDto {
  @ApiProperty({ pattern: '^[A-Za-z0-9_.-]{3,64}$', example: 'alice' })
  @IsString()
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username: string;

  @ApiProperty({ description: '8 to 72 bytes of UTF-8, no NUL', minLength: 8, example: 'password123' })
  @IsString()
  @Validate(PasswordBytes)
  password: string;
}
