import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CredentialsDto } from '../users/dto/credentials.dto';
import { AccessToken, AuthService } from './auth.service';

@Controller('users')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  login(@Body() body: CredentialsDto): Promise<AccessToken> {
    return this.auth.login(body.username, body.password);
  }
}
