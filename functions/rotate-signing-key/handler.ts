/** Secrets Manager rotation function for the JWT signing key (the four steps: auth/rotation.ts). */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type RotationEvent, rotateSigningKey } from '#shared/auth/rotation';
import { secretsManager } from '#shared/clients/secrets-manager';
import { logger } from '#shared/powertools';

export const handler = middy(async (event: RotationEvent): Promise<void> => {
  const outcome = await rotateSigningKey(event, secretsManager);
  logger.info(outcome, { step: event.Step, version: event.ClientRequestToken });
}).use(injectLambdaContext(logger, { resetKeys: true }));
