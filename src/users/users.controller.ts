import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { CredentialsDto } from './dto/credentials.dto';
import { UsersService, UserView } from './users.service';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post('register')
  @HttpCode(201)
  register(@Body() body: CredentialsDto): Promise<UserView> {
    return this.users.register(body.username, body.password);
  }

  @Get('me')
  @UseGuards(JwtAuthGuard)
  me(@CurrentUser() user: AuthenticatedUser): Promise<UserView> {
    return this.users.profile(user.id);
  }
}
