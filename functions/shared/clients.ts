/**
 * AWS SDK clients, created once per execution environment and traced by X-Ray.
 *
 * No endpoint is set here: the SDK reads the standard variables (`AWS_ENDPOINT_URL`,
 * `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, ...), which is how
 * the offline runtime and LocalStack redirect the same code. `@__PURE__` lets esbuild
 * drop a client a function never uses.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '#shared/powertools';

export const dynamodb: DynamoDBClient = /* @__PURE__ */ tracer.captureAWSv3Client(
  /* @__PURE__ */ new DynamoDBClient({}),
);

/** Plain JavaScript values in and out; `undefined` attributes are dropped, not rejected. */
export const documentClient: DynamoDBDocumentClient = /* @__PURE__ */ DynamoDBDocumentClient.from(dynamodb, {
  marshallOptions: { removeUndefinedValues: true },
});

export const secretsManager: SecretsManagerClient = /* @__PURE__ */ tracer.captureAWSv3Client(
  /* @__PURE__ */ new SecretsManagerClient({}),
);

export const sfn: SFNClient = /* @__PURE__ */ tracer.captureAWSv3Client(/* @__PURE__ */ new SFNClient({}));

export const sqs: SQSClient = /* @__PURE__ */ tracer.captureAWSv3Client(/* @__PURE__ */ new SQSClient({}));

export const eventBridge: EventBridgeClient = /* @__PURE__ */ tracer.captureAWSv3Client(
  /* @__PURE__ */ new EventBridgeClient({}),
);
