/**
 * The server the SQS conformance suite runs against, one per test file.
 *
 * - By default: `createSqsProvider()` behind a tiny node:http server on 127.0.0.1, which
 *   builds the edge's `AwsRequest` and forwards it to `provider.handle`.
 * - With `SQS_CONFORMANCE_ENDPOINT` set: any other SQS implementation already listening
 *   there (how a candidate such as the npm package `local-aws-sqs` is judged). Its queue
 *   URLs must use account `SQS_CONFORMANCE_ACCOUNT_ID` (default 000000000000).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import type { AwsRequest, Provider } from '#local/runtime/types';

export const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface SqsTarget {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly accountId: string;
  /** An SDK v3 client bound to the endpoint. */
  readonly client: SQSClient;
  /** `arn:aws:sqs:us-east-1:<account>:<name>`. */
  arnOf(queueName: string): string;
  urlOf(queueName: string): string;
  close(): Promise<void>;
}

export async function startSqsTarget(): Promise<SqsTarget> {
  const external = process.env.SQS_CONFORMANCE_ENDPOINT;
  const accountId = process.env.SQS_CONFORMANCE_ACCOUNT_ID ?? '000000000000';
  let closeServer = async (): Promise<void> => {};
  let endpoint: string;
  if (external) {
    endpoint = external.replace(/\/$/, '');
  } else {
    // Imported lazily so that a candidate can be judged before the provider exists.
    const { createSqsProvider } = await import('#local/runtime/providers/sqs');
    const provider = createSqsProvider();
    const server = createServer((req, res) => {
      forward(provider, req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await provider.start?.({
      region: REGION,
      accountId,
      endpoint,
      assemblyDir: 'cdk.out',
      services: { get: () => undefined },
      log: () => {},
    });
    closeServer = async () => {
      await provider.stop?.();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  }
  const client = new SQSClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  return {
    endpoint,
    accountId,
    client,
    arnOf: (name) => `arn:aws:sqs:${REGION}:${accountId}:${name}`,
    urlOf: (name) => `${endpoint}/${accountId}/${name}`,
    close: async () => {
      client.destroy();
      await closeServer();
    },
  };
}

async function forward(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(
    req.headers.authorization ?? '',
  );
  const target = req.headers['x-amz-target'];
  const request: AwsRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body: Buffer.concat(chunks),
    signingService: scope?.[2],
    region: scope?.[1] ?? REGION,
    target: typeof target === 'string' ? target : undefined,
  };
  if (!provider.matches(request)) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('no provider matches');
    return;
  }
  const response = await provider.handle(request);
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

/** A queue name no other test uses: SQS names allow 80 characters of [A-Za-z0-9_-]. */
export function uniqueQueueName(label: string): string {
  return `it-${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves with the rejection of `promise`; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<SQSServiceException> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => {
      if (!(error instanceof SQSServiceException)) throw error;
      return error;
    },
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
