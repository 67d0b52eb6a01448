import { ApiProperty } from '@nestjs/swagger';
import { IsString, Validate, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';
import { IsUsername, USERNAME_PATTERN } from '../../common/identifiers';

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

export class CredentialsDto {
  @ApiProperty({ pattern: USERNAME_PATTERN.source, example: 'alice' })
  @IsString()
  @IsUsername()
  username: string;

  @ApiProperty({ description: '8 to 72 bytes of UTF-8, no NUL', minLength: 8, example: 'password123' })
  @IsString()
  @Validate(PasswordBytes)
  password: string;
}
