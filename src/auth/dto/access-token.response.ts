import { ApiProperty } from '@nestjs/swagger';
import type { AccessToken } from '../auth.service';

export class AccessTokenResponse implements AccessToken {
  @ApiProperty({ description: 'HS256 JWT; send as `Authorization: Bearer <token>`', example: 'eyJhbGciOiJIUzI1NiJ9.e30.sig' })
  access_token: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  token_type: 'Bearer';

  @ApiProperty({ description: 'Seconds until the token expires', example: 3600 })
  expires_in: number;
}
