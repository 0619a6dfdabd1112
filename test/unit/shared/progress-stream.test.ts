import { GoneException } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DomainEvent } from '#core/wire';
import {
  eventFrame,
  MAX_FRAME_BYTES,
  managementClient,
  managementEndpoint,
  sendToConnection,
} from '#shared/progress-stream';

const EVENT: DomainEvent = {
  type: 'step.failed',
  workflow_id: 'wf-1',
  step_id: 's1',
  issue_id: 'i1',
  agent_id: 'reference-network',
  status: 'FAILED',
  completion_percentage: 40,
  eta_completion: null,
  seq: 7,
  at: '2026-11-24T10:00:00.000Z',
  error: 'Agent.Permanent',
};

describe('managementEndpoint', () => {
  it('keeps the callback URL when no endpoint override is set', () => {
    const url = 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1';
    expect(managementEndpoint(url)).toBe(url);
  });

  it("moves the callback URL to the override's no-DNS execute-api path", () => {
    expect(
      managementEndpoint('https://abc123.execute-api.eu-west-1.amazonaws.com/v1', 'http://127.0.0.1:4566/'),
    ).toBe('http://127.0.0.1:4566/_aws/execute-api/abc123/v1');
  });

  it('leaves a custom domain alone', () => {
    expect(managementEndpoint('https://ws.example.com/v1', 'http://127.0.0.1:4566')).toBe(
      'https://ws.example.com/v1',
    );
  });
});

describe('eventFrame', () => {
  it('sends an event that fits as it is', () => {
    expect(JSON.parse(eventFrame(EVENT))).toEqual(EVENT);
  });

  it('drops issue_id and agent_id, then truncates error, to stay under the frame limit', () => {
    // Prepare
    const huge = { ...EVENT, error: `"é${'x'.repeat(MAX_FRAME_BYTES)}` };

    // Act
    const frame = eventFrame(huge);

    // Assess
    expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const parsed = JSON.parse(frame) as DomainEvent;
    expect(parsed).toMatchObject({ type: 'step.failed', workflow_id: 'wf-1', step_id: 's1', seq: 7 });
    expect(parsed.issue_id).toBeUndefined();
    expect(parsed.agent_id).toBeUndefined();
    expect(parsed.error?.startsWith('"éxxx')).toBe(true);
    expect(parsed.error?.endsWith('…')).toBe(true);
  });

  it('drops the optional fields without truncating when that is enough', () => {
    const frame = eventFrame({ ...EVENT, error: undefined }, 200);
    expect(JSON.parse(frame)).not.toHaveProperty('agent_id');
  });
});

describe('sendToConnection', () => {
  it('reports a 410 as gone and passes other failures on', async () => {
    // Prepare
    const gone = { send: async () => Promise.reject(new GoneException({ message: 'gone', $metadata: {} })) };
    const broken = { send: async () => Promise.reject(new Error('throttled')) };
    const fine = { send: async () => ({}) };

    // Act / Assess
    await expect(sendToConnection(gone, 'c1', '{}')).resolves.toBe('gone');
    await expect(sendToConnection(fine, 'c1', '{}')).resolves.toBe('sent');
    await expect(sendToConnection(broken, 'c1', '{}')).rejects.toThrow('throttled');
  });
});

describe('managementClient', () => {
  it('points the @connections client at the no-DNS form when the SDK endpoint is overridden', async () => {
    // Act
    const client = managementClient({
      WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
    });
    const endpoint = await client.config.endpoint?.();

    // Assess
    expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}${endpoint?.path}`).toBe(
      'http://127.0.0.1:4566/_aws/execute-api/abc123/v1',
    );
  });

  it('keeps the stage URL on AWS', async () => {
    const client = managementClient({
      WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1',
    });
    const endpoint = await client.config.endpoint?.();
    expect(endpoint?.hostname).toBe('abc123.execute-api.eu-west-1.amazonaws.com');
  });
});
