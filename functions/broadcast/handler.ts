/**
 * The progress stream's broadcaster: an EventBridge rule on the domain-event bus (source
 * `master-orchestrator`) invokes it with one event; it sends the DomainEvent to the
 * subscribers of that workflow and of `*`, and forgets connections that are gone (410).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod';
import { DomainEvent } from '#core/wire';
import { documentClient } from '#shared/clients/dynamodb';
import { loadConfig, TableEnv } from '#shared/config';
import { logger } from '#shared/powertools';
import { createBroadcaster, managementClient, sendToConnection, WebSocketEnv } from '#shared/progress-stream';
import { ConnectionRepository } from '#shared/repository/connections';

const config = loadConfig(
  z.object({
    ...TableEnv,
    ...WebSocketEnv,
  }),
);

const management = managementClient(config);

const broadcast = createBroadcaster({
  connections: new ConnectionRepository(documentClient, config.TABLE_NAME),
  send: (connectionId, frame) => sendToConnection(management, connectionId, frame),
  onSendError: (connectionId, error) => logger.warn('send failed', { connection_id: connectionId, error }),
});

export const handler = middy(async (event: EventBridgeEvent<string, unknown>) => {
  const parsed = DomainEvent.safeParse(event.detail);
  if (!parsed.success) {
    // Retrying cannot fix a malformed event; log it and let it go.
    logger.error('not a domain event', { detail_type: event['detail-type'], issues: parsed.error.issues });
    return { sent: 0, gone: 0, failed: 0 };
  }
  const result = await broadcast(parsed.data);
  logger.info('broadcast', { workflow_id: parsed.data.workflow_id, seq: parsed.data.seq, ...result });
  return result;
}).use(injectLambdaContext(logger, { resetKeys: true }));
