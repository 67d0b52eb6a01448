import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
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

  @Get('me')
  @UseGuards(JwtAuthGuard)
  me(@CurrentUser() user: AuthenticatedUser): Promise<UserView> {
    return this.users.profile(user.id);
  }
}
