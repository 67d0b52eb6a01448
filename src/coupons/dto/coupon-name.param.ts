import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';

export class CouponNameParam {
  @ApiProperty({ pattern: '^[A-Za-z0-9_-]{1,64}$', example: 'FLASH50' })
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'name must be 1-64 characters of [A-Za-z0-9_-]' })
  name: string;
}
