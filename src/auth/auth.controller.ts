import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { RateLimitGuard, RateLimited } from '../rate-limit/rate-limit.guard';
import { CredentialsDto } from '../users/dto/credentials.dto';
import { AccessToken, AuthService } from './auth.service';
import { AccessTokenResponse } from './dto/access-token.response';

@ApiTags('users')
@Controller('users')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in: a bearer token for the other routes' })
  @ApiOkResponse({ type: AccessTokenResponse })
  @ApiErrors('VALIDATION_FAILED', 'INVALID_CREDENTIALS', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_REQUESTS', 'AUTH_BUSY')
  @UseGuards(RateLimitGuard)
  @RateLimited('login')
  login(@Body() body: CredentialsDto): Promise<AccessToken> {
    return this.auth.login(body.username, body.password);
  }
}
