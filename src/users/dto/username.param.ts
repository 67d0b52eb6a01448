import { IsUsername } from '../../common/identifiers';

export class UsernameParam {
  @IsUsername()
  username: string;
}
