import { ApiProperty } from '@nestjs/swagger';
import { IsUsername, USERNAME_PATTERN } from '../../common/identifiers';

export class UsernameParam {
  @ApiProperty({ pattern: USERNAME_PATTERN.source, example: 'alice' })
  @IsUsername()
  username: string;
}
