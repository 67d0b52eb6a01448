import type { FastifyRequest } from 'fastify';

export type Role = 'user' | 'admin';

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
  /** Expiry in seconds since the epoch, set by the signer (JWT_EXPIRES_IN). */
  exp?: number;
}

/** A request JwtAuthGuard has let through carries its caller. */
export type AuthenticatedRequest = FastifyRequest & { user?: AuthenticatedUser };
