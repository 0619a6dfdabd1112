/**
 * The provider registry: every provider the offline runtime runs, in routing order.
 * The edge asks them in this order, so providers that match by path come first:
 * API Gateway (`/_aws/execute-api/...`), then Lambda (`/2015-03-31/functions/...`),
 * then those that match by signing name or `X-Amz-Target`. Adding a provider touches
 * only this list.
 */
import { STEADY_STATE_JVM_ARGS } from '../../dynamodb-local';
import type { Provider } from '../types';
import { createApiGatewayRestProvider } from './apigateway-rest';
import { createApiGatewayWebSocketProvider } from './apigateway-websocket';
import { createDynamoDbProvider, type DynamoDbProviderOptions } from './dynamodb';
import { createEventBridgeProvider } from './eventbridge';
import { createLambdaProvider, type LambdaProviderOptions } from './lambda';
import { createSecretsManagerProvider } from './secretsmanager';
import { createSqsProvider } from './sqs';
import { createStepFunctionsProvider } from './stepfunctions';
import { createStsProvider } from './sts';

export interface ProviderOptions {
  readonly dynamodb?: DynamoDbProviderOptions;
  readonly lambda?: LambdaProviderOptions;
}

/**
 * Fresh providers, one set per runtime.
 *
 * @example
 * const providers = createProviders();
 * providers.map((provider) => provider.service);
 * // ['execute-api', 'execute-api', 'lambda', 'sqs', 'states', 'events', 'dynamodb', 'secretsmanager', 'sts']
 */
export function createProviders(options: ProviderOptions = {}): Provider[] {
  return [
    // Before REST: the REST provider claims every /_aws/execute-api/ path; this one only its own APIs' upgrades and @connections.
    createApiGatewayWebSocketProvider(),
    createApiGatewayRestProvider(),
    createLambdaProvider(options.lambda),
    createSqsProvider(),
    createStepFunctionsProvider(),
    createEventBridgeProvider(),
    createDynamoDbProvider(options.dynamodb),
    createSecretsManagerProvider(),
    createStsProvider(),
  ];
}

/**
 * The providers of a runtime that serves for minutes or hours (`npm start`, the benches):
 * DynamoDB Local with the JVM's full JIT, which boots later and then runs faster.
 * @example
 * const runtime = await startRuntime({ assemblyDir: 'cdk.out', providers: steadyStateProviders() });
 */
export function steadyStateProviders(): Provider[] {
  return createProviders({ dynamodb: { dynamoDbLocal: { jvmArgs: STEADY_STATE_JVM_ARGS } } });
}
