/**
 * The progress socket (contract C9): one function behind every route of the WebSocket API,
 * chosen by `requestContext.routeKey` ($connect, $disconnect, subscribe, unsubscribe, ping,
 * $default). Replayed events go out through the `@connections` API before the route's
 * answer, so a client sees them first.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import * as z from 'zod';
import { documentClient } from '#shared/clients/dynamodb';
import { loadConfig, TableEnv } from '#shared/config';
import { logger } from '#shared/powertools';
import {
  createSocketRoutes,
  managementClient,
  sendToConnection,
  WebSocketEnv,
} from '#shared/progress-stream';
import { ConnectionRepository } from '#shared/repository/connections';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';

const config = loadConfig(
  z.object({
    ...TableEnv,
    ...WebSocketEnv,
  }),
);

const management = managementClient(config);

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
