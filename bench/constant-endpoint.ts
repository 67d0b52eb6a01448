import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Benchmark row D: the HTTP ceiling of this machine for this framework and adapter. Same
 * NestJS + Fastify set-up as the service, one POST route that answers a constant.
 */
@Controller('coupons')
class ConstantController {
  // The claim route's own path, so routing costs the same on both sides of the ratio.
  @Post('claim')
  @HttpCode(200)
  constant(@Body() _body: unknown) {
    return { coupon_name: 'CONSTANT', status: 'ok' };
  }
}

/** The bare-framework row: the service's liveness route, answered by the framework alone (no logs, metrics, headers, ids). */
@Controller('healthcheck')
class BareLivenessController {
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}

@Module({ controllers: [ConstantController, BareLivenessController] })
class ConstantModule {}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 0);
  const app = await NestFactory.create<NestFastifyApplication>(ConstantModule, new FastifyAdapter(), { logger: false, bodyParser: false });
  app.setGlobalPrefix('api');
  await app.listen(port, '127.0.0.1');
  process.stdout.write(`listening ${(app.getHttpServer().address() as { port: number }).port}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
