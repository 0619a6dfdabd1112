/**
 * GET api/orchestrator/dashboard (public): the live dashboard, one static HTML page with its
 * script and style inlined (built from dashboard/ by esbuild at synth). It carries no data and
 * no secret: it asks for a token, keeps it in sessionStorage, and calls this API and the
 * progress socket (`WEBSOCKET_URL`, empty on a stack without one: the page then polls).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import { loadConfig } from '#shared/config';
import { servePage } from './page';
import { DASHBOARD_PAGE } from './page.generated';

const { WEBSOCKET_URL } = loadConfig(
  z.object({
    WEBSOCKET_URL: z.union([z.literal(''), z.url({ protocol: /^wss?$/ })]),
  }),
);

const page = servePage(DASHBOARD_PAGE, WEBSOCKET_URL);

export const handler = async (): Promise<APIGatewayProxyResult> => ({
  statusCode: 200,
  headers: { ...page.headers },
  body: page.body,
});
