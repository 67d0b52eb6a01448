import { Body, Controller, HttpCode, Post } from '@nestjs/common';
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
}
