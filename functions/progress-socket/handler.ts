/**
 * The progress socket (contract C9): one function behind every route of the WebSocket API,
 * chosen by `requestContext.routeKey` ($connect, $disconnect, subscribe, unsubscribe, ping,
 * $default). Replayed events go out through the `@connections` API before the route's
 * answer, so a client sees them first.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import middy from '@middy/core';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { documentClient } from '#shared/clients';
import { loadConfig, TableEnv } from '#shared/config';
import { logger, tracer } from '#shared/powertools';
import { createSocketRoutes, managementEndpoint, sendToConnection } from '#shared/progress-stream';
import { ConnectionRepository } from '#shared/repository/connections';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';

const config = loadConfig(
  z.object({
    ...TableEnv,
    /** `https://<apiId>.execute-api.<region>.amazonaws.com/<stage>`: the stage's callback URL. */
    WEBSOCKET_MANAGEMENT_ENDPOINT: z.url(),
    /** The SDK's own endpoint override; set by the offline runtime and LocalStack. */
    AWS_ENDPOINT_URL: z.url().optional(),
  }),
);

const management = tracer.captureAWSv3Client(
  new ApiGatewayManagementApiClient({
    endpoint: managementEndpoint(config.WEBSOCKET_MANAGEMENT_ENDPOINT, config.AWS_ENDPOINT_URL),
  }),
);

const route = createSocketRoutes({
  connections: new ConnectionRepository(documentClient, config.TABLE_NAME),
  runs: new WorkflowRunRepository(documentClient, config.TABLE_NAME),
  send: (connectionId, frame) => sendToConnection(management, connectionId, frame),
});

export const handler = middy(async (event: APIGatewayProxyWebsocketEventV2 & { body?: string | null }) => {
  logger.appendKeys({
    route: event.requestContext.routeKey,
    connection_id: event.requestContext.connectionId,
  });
  const response = await route(event);
  if (response.statusCode >= 400) logger.info('socket request refused', { status: response.statusCode });
  return response;
}).use(injectLambdaContext(logger, { resetKeys: true }));
