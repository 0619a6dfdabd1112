/** The Step Functions client (see retry.ts for why each client has its own module). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SDK_RETRY_OPTIONS } from '#shared/clients/retry';

export const sfn: SFNClient = new SFNClient({ ...SDK_RETRY_OPTIONS });
