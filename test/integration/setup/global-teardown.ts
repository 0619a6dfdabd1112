/**
 * Jest globalTeardown for the `integration` project: stops what global-setup.ts started.
 * DynamoDB Local's stop() resolves only once the JVM has exited.
 */
import { type IntegrationServices, SERVICES_KEY } from './global-setup';

type GlobalWithServices = typeof globalThis & { [SERVICES_KEY]?: IntegrationServices };

export default async function globalTeardown(): Promise<void> {
  const scope = globalThis as GlobalWithServices;
  const services = scope[SERVICES_KEY];
  if (!services) return;
  delete scope[SERVICES_KEY];
  const results = await Promise.allSettled([services.dynamoDb.stop(), services.secretsManager.stop()]);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}
