import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import { AuthenticatedUser } from './authenticated-user';
import { AuthenticatedRequest } from './jwt-auth.guard';

/** The caller proven by JwtAuthGuard. */
export const CurrentUser = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthenticatedUser =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().user!,
);
