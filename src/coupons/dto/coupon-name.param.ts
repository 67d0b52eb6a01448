import { ApiProperty } from '@nestjs/swagger';
import { COUPON_NAME_PATTERN, IsCouponName } from '../../common/identifiers';

export class CouponNameParam {
  @ApiProperty({ pattern: COUPON_NAME_PATTERN.source, example: 'FLASH50' })
  @IsCouponName()
  name: string;
}
