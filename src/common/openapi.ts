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
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    // Relative: the document describes whichever host serves it (paths already start with /api).
    .addServer('/', 'The host that serves this document')
    .addTag('users', "Registration, login, the caller's profile and holdings; deleting users (admin)")
    .addTag('coupons', 'Creating and changing coupons (admin), reading them, and claiming one')
    .addTag('operations', 'Health probes and Prometheus metrics for orchestrators and monitoring')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // The probe routes spell out their full path and are excluded from the global prefix;
  // @nestjs/swagger still puts the prefix in front of them. Undo that one doubling.
  document.paths = Object.fromEntries(Object.entries(document.paths).map(([path, item]) => [path.replace(/^\/api\/api\//, '/api/'), item]));
  declareCommonHeaders(document);
  return document;
}

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * What holds for every operation, written once here rather than on each route: every answer
 * carries `X-Request-Id` (common/security-headers.ts), and an operation without a bearer
 * requirement says so with an empty `security` (public), rather than leaving it unsaid.
 */
function declareCommonHeaders(document: OpenAPIObject): void {
  document.components = {
    ...document.components,
    headers: {
      ...document.components?.headers,
      'X-Request-Id': {
        description: "The id this request is logged under: the caller's X-Request-Id when it is a safe token, else a new UUID",
        schema: { type: 'string', example: '0b6f9d6e-3c1a-4a55-9a55-2f1f3b7c9e10' },
      },
    },
  };
  for (const item of Object.values(document.paths)) {
    for (const method of OPERATION_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      operation.security ??= [];
      for (const response of Object.values(operation.responses)) {
        if (!response || '$ref' in response) continue;
        response.headers = { ...response.headers, 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
      }
    }
  }
}

/** Where Swagger UI and its assets are served: the service's only HTML. */
export const API_DOCS_PATH = '/api/docs';

/** Swagger UI at /api/docs, the JSON document at /api/docs-json. */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(API_DOCS_PATH.slice(1), app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: `${API_DOCS_PATH.slice(1)}-json`,
    yamlDocumentUrl: `${API_DOCS_PATH.slice(1)}-yaml`,
  });
}
