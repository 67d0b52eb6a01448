import { ApiProperty } from '@nestjs/swagger';
import type { Role } from '../../auth/authenticated-user';
import type { UserView } from '../users.service';

export class UserResponse implements UserView {
  @ApiProperty({ example: 7 })
  id: number;

  @ApiProperty({ example: 'alice' })
  username: string;

  @ApiProperty({ enum: ['user', 'admin'], example: 'user' })
  role: Role;

  @ApiProperty({ format: 'date-time', example: '2026-11-23T09:00:00.000Z' })
  created_at: string;
}
