/** The DynamoDB clients (see retry.ts for why each client has its own module). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SDK_RETRY_OPTIONS } from '#shared/clients/retry';

export const dynamodb: DynamoDBClient = new DynamoDBClient({ ...SDK_RETRY_OPTIONS });

/** Plain JavaScript values in and out; `undefined` attributes are dropped, not rejected. */
export const documentClient: DynamoDBDocumentClient = DynamoDBDocumentClient.from(dynamodb, {
  marshallOptions: { removeUndefinedValues: true },
});
