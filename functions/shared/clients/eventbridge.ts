/** The EventBridge client (see retry.ts for why each client has its own module). */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SDK_RETRY_OPTIONS } from '#shared/clients/retry';

export const eventBridge: EventBridgeClient = new EventBridgeClient({ ...SDK_RETRY_OPTIONS });
