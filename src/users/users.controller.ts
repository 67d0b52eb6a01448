import { Body, Controller, Delete, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AuthenticatedUser } from '../auth/authenticated-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { Roles } from '../auth/roles.decorator';
import { CredentialsDto } from './dto/credentials.dto';
import { UsernameParam } from './dto/username.param';
import { UsersService, UserView } from './users.service';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post('register')
  @HttpCode(201)
  register(@Body() body: CredentialsDto): Promise<UserView> {
    return this.users.register(body.username, body.password);
  }

  @Delete(':username')
  @HttpCode(204)
  @UseGuards(JwtAuthGuard)
  @Roles('admin')
  async delete(@CurrentUser() admin: AuthenticatedUser, @Param() params: UsernameParam): Promise<void> {
    await this.users.delete(params.username, admin.username);
  }
}
