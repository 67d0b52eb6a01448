import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../common/domain-error';
import { AuthService } from './auth.service';
import { AuthenticatedRequest, Role } from './authenticated-user';
import { ROLES_KEY } from './roles.decorator';

/** Requires a valid bearer token, and the role named by @Roles() when there is one. */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const user = this.auth.authenticate(request.headers.authorization);
    request.user = user;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    if (roles && !roles.includes(user.role)) {
      throw new DomainError('FORBIDDEN', `This action needs the ${roles.join(' or ')} role`);
    }
    return true;
  }
}
