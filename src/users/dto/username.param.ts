import { Matches } from 'class-validator';
import { USERNAME_MESSAGE, USERNAME_PATTERN } from './credentials.dto';

export class UsernameParam {
  @Matches(USERNAME_PATTERN, { message: USERNAME_MESSAGE })
  username: string;
}
