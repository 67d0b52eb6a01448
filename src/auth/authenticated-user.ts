import { Role } from '../users/user.entity';

/** Who is calling, as proven by the bearer token. */
export interface AuthenticatedUser {
  id: string;
  username: string;
  role: Role;
}

export interface TokenPayload {
  sub: string;
  username: string;
  role: Role;
}
