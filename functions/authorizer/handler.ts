/**
 * Lambda REQUEST authorizer for the REST API and the WebSocket `$connect`: verifies the
 * bearer JWT (header, or `token` query parameter) against the current and previous
 * signing keys and allows the whole stage, with `{ sub, role }` in the context.
 * Routes enforce roles themselves (http.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import * as z from 'zod';
import { type AuthorizerEvent, authorizeRequest } from '#shared/auth/authorize';
import { SigningKeys, secretStagesFromSecretsManager } from '#shared/auth/signing-keys';
import { secretsManager } from '#shared/clients/secrets-manager';
import { JwtEnv, loadConfig } from '#shared/config';
import { logger } from '#shared/powertools';

const config = loadConfig(z.object(JwtEnv));
const signingKeys = new SigningKeys(secretStagesFromSecretsManager(config.JWT_SECRET_ARN, secretsManager));
const tokenOptions = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };

const authorize = (event: AuthorizerEvent): Promise<APIGatewayAuthorizerResult> =>
  authorizeRequest(
    event,
    (token) => signingKeys.verify(token, tokenOptions),
    (reason) => logger.info('request denied', { reason }),
  );

export const handler = middy(async (event: APIGatewayRequestAuthorizerEvent) => authorize(event)).use(
  injectLambdaContext(logger, { resetKeys: true }),
);
