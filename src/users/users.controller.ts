import { Body, Controller, Delete, Get, HttpCode, Ip, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccessToken } from '../auth/auth.service';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AccessTokenResponse } from '../auth/dto/access-token.response';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Roles } from '../auth/roles.decorator';
import { ApiErrors, TOKEN_ERRORS } from '../common/api-docs';
import { RateLimitGuard, RateLimited } from '../rate-limit/rate-limit.guard';
import { loginBuckets, registrationBuckets } from './account-limits';
import { CredentialsDto } from './dto/credentials.dto';
import { UserResponse } from './dto/user.response';
import { UsernameParam } from './dto/username.param';
import { UsersService, UserView } from './users.service';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post('register')
  @HttpCode(201)
  @ApiOperation({ operationId: 'registerUser', summary: 'Register a user' })
  @ApiCreatedResponse({ type: UserResponse })
  @ApiErrors('VALIDATION_FAILED', 'USERNAME_TAKEN', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_REQUESTS', 'AUTH_BUSY', 'DATABASE_UNAVAILABLE')
  @UseGuards(RateLimitGuard)
  @RateLimited(registrationBuckets)
  register(@Body() body: CredentialsDto, @Ip() clientAddress: string): Promise<UserView> {
    return this.users.register(body.username, body.password, clientAddress);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ operationId: 'logIn', summary: 'Log in: a bearer token for the other routes' })
  @ApiOkResponse({ type: AccessTokenResponse })
  @ApiErrors('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_REQUESTS', 'AUTH_BUSY', 'DATABASE_UNAVAILABLE')
  @UseGuards(RateLimitGuard)
  @RateLimited(loginBuckets)
  login(@Body() body: CredentialsDto, @Ip() clientAddress: string): Promise<AccessToken> {
    return this.users.login(body.username, body.password, clientAddress);
  }

  @Get('me')
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ operationId: 'getMyProfile', summary: "The caller's profile" })
  @ApiOkResponse({ type: UserResponse })
  @ApiErrors(...TOKEN_ERRORS, 'DATABASE_UNAVAILABLE')
  me(@CurrentUser() user: AuthenticatedUser): Promise<UserView> {
    return this.users.profile(user.id);
  }

  @Delete(':username')
  @HttpCode(204)
  @UseGuards(JwtAuthGuard)
  @Roles('admin')
  @ApiBearerAuth()
  @ApiOperation({ operationId: 'deleteUser', summary: 'Delete a user (admin only); their tokens stop working' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(
    'VALIDATION_FAILED',
    ...TOKEN_ERRORS,
    'FORBIDDEN',
    'CANNOT_DELETE_SELF',
    'USER_NOT_FOUND',
    'USER_HAS_CLAIMS',
    'DATABASE_UNAVAILABLE',
  )
  async delete(@CurrentUser() admin: AuthenticatedUser, @Param() params: UsernameParam): Promise<void> {
    await this.users.delete(params.username, admin.username);
  }
}
