/** GET api/orchestrator/health (public): liveness, with the service name and the REST contract version. */
import type { HealthReport } from '#core/wire';
import { httpHandler, routeById } from '#shared/http';
import { API_VERSION } from '#shared/openapi';
import { serviceName } from '#shared/powertools';

export const handler = httpHandler(routeById('health'), async () => {
  const body: HealthReport = {
    status: 'ok',
    service: serviceName,
    version: API_VERSION,
    time: new Date().toISOString(),
  };
  return { body };
});
