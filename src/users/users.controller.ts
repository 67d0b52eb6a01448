import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { CredentialsDto } from './dto/credentials.dto';
import { UserResponse } from './dto/user.response';
import { UsersService, UserView } from './users.service';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post('register')
  @HttpCode(201)
  @ApiOperation({ summary: 'Register a user' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiErrors('VALIDATION_FAILED', 'USERNAME_TAKEN', 'PAYLOAD_TOO_LARGE')
  register(@Body() body: CredentialsDto): Promise<UserView> {
    return this.users.register(body.username, body.password);
  }
}
