import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/** The OpenAPI document, built from the controllers' and DTOs' decorators. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Flash-sale coupons')
    .setDescription(
      'Claim limited coupons under load. Every error is `{statusCode, code, message}` with a stable `code`; ' +
        '503 answers carry `Retry-After` and changed nothing. Prometheus metrics are at `/metrics` (outside `/api`).',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // The probe routes spell out their full path and are excluded from the global prefix;
  // @nestjs/swagger 11 still puts the prefix in front of them. Undo that one doubling.
  document.paths = Object.fromEntries(
    Object.entries(document.paths).map(([path, item]) => [path.replace(/^\/api\/api\//, '/api/'), item]),
  );
  return document;
}

/** Swagger UI at /api/docs, the JSON document at /api/docs-json. */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'api/docs-json', yamlDocumentUrl: 'api/docs-yaml' });
}
