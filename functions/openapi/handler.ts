/** GET api/orchestrator/openapi.json (public): the OpenAPI 3.1 document, built once per execution environment. */
import { httpHandler, routeById } from '#shared/http';
import { buildOpenApiDocument } from '#shared/openapi';

const document = buildOpenApiDocument();

export const handler = httpHandler(routeById('openapi'), async () => ({ body: document }));
