import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { RateLimitGuard, RateLimited } from '../rate-limit/rate-limit.guard';
import { CredentialsDto } from '../users/dto/credentials.dto';
import { AccessToken, AuthService } from './auth.service';

@Controller('users')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  @UseGuards(RateLimitGuard)
  @RateLimited('login')
  login(@Body() body: CredentialsDto): Promise<AccessToken> {
    return this.auth.login(body.username, body.password);
  }
}
