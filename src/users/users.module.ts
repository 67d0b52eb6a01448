import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DeletedUsersRegistry } from './deleted-users.registry';
import { HashingLoadShedder } from './hashing-load-shedder';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User])],
  controllers: [UsersController],
  providers: [UsersService, PasswordHasher, DeletedUsersRegistry, HashingLoadShedder],
  exports: [UsersService, PasswordHasher, DeletedUsersRegistry],
})
export class UsersModule {}
