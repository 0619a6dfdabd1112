/**
 * The EventBridge provider without sockets: schedule parsing, deploy, the in-process
 * putEvents with its validation, schedule timers on an injected clock, and stop().
 */
import {
  createEventBridgeProvider,
  type EventBridgeProvider,
  type ScheduleClock,
} from '#local/runtime/providers/eventbridge';
import { parseSchedule, UnsupportedScheduleError } from '#local/runtime/providers/eventbridge/schedule';
import type { DeployContext, LambdaResult, ResolvedResource } from '#local/runtime/types';

class FakeClock implements ScheduleClock {
  time = Date.UTC(2026, 0, 5, 10, 0, 30);
  readonly timers = new Map<number, { callback: () => void; ms: number }>();
  private next = 1;
  now = (): number => this.time;
  setTimeout = (callback: () => void, ms: number): number => {
    const id = this.next++;
    this.timers.set(id, { callback, ms });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** Advances to the earliest timer and runs it. */
  fire(): void {
    const [id, timer] = [...this.timers.entries()][0] ?? [];
    if (id === undefined || !timer) throw new Error('no timer');
    this.timers.delete(id);
    this.time += timer.ms;
    timer.callback();
  }
}

function setup(): {
  provider: EventBridgeProvider;
  clock: FakeClock;
  invocations: { name: string; event: unknown }[];
  logs: string[];
  context: DeployContext;
} {
  const clock = new FakeClock();
  const invocations: { name: string; event: unknown }[] = [];
  const logs: string[] = [];
  const context: DeployContext = {
    region: 'us-east-1',
    accountId: '000000000000',
    endpoint: 'http://127.0.0.1:4566',
    assemblyDir: 'cdk.out',
    stackName: 'MasterOrchestrator',
    services: {
      lambda: {
        invoke: async (name, event): Promise<LambdaResult> => {
          invocations.push({ name, event });
          return name.endsWith(':broken')
            ? { ok: false, errorType: 'Error', errorMessage: 'boom', durationMs: 1 }
            : { ok: true, payload: null, durationMs: 1, coldStart: false };
        },
      },
      get: () => undefined,
    },
    log: (message) => logs.push(message),
  };
  return { provider: createEventBridgeProvider({ clock }), clock, invocations, logs, context };
}

const rule = (logicalId: string, properties: Record<string, unknown>): ResolvedResource => ({
  logicalId,
  type: 'AWS::Events::Rule',
  properties,
  metadata: {},
});
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:handler';

describe('parseSchedule', () => {
  it('reads rate expressions', () => {
    expect(parseSchedule('rate(1 minute)')).toEqual({ kind: 'rate', periodMs: 60_000 });
    expect(parseSchedule('rate(2 hours)')).toEqual({ kind: 'rate', periodMs: 7_200_000 });
    expect(() => parseSchedule('rate(1 minutes)')).toThrow('not valid');
    expect(() => parseSchedule('rate(0 minutes)')).toThrow('not valid');
  });

  it('computes the next cron time in UTC', () => {
    const schedule = parseSchedule('cron(0/15 8-17 ? * MON-FRI *)');
    if (schedule.kind !== 'cron') throw new Error('expected cron');
    // Monday 2026-01-05 10:07 UTC → 10:15; Friday 17:50 → Monday 08:00.
    expect(new Date(schedule.next(Date.UTC(2026, 0, 5, 10, 7)) ?? 0).toISOString()).toBe(
      '2026-01-05T10:15:00.000Z',
    );
    expect(new Date(schedule.next(Date.UTC(2026, 0, 9, 17, 50)) ?? 0).toISOString()).toBe(
      '2026-01-12T08:00:00.000Z',
    );
  });

  it('rejects malformed cron and flags unsupported L/W/#', () => {
    expect(() => parseSchedule('cron(0 8 * * *)')).toThrow('6 fields');
    expect(() => parseSchedule('cron(0 8 * * MON *)')).toThrow('"?"');
    expect(() => parseSchedule('cron(0 99 ? * * *)')).toThrow('not valid');
    expect(() => parseSchedule('cron(0 8 L * ? *)')).toThrow(UnsupportedScheduleError);
  });
});

describe('the EventBridge provider', () => {
  it('deploys a rule and delivers matching events to Lambda with the AWS envelope', async () => {
    // Prepare
    const { provider, context, invocations } = setup();
    const deployed = await provider.deploy?.(
      rule('OnOrder', {
        Name: 'on-order',
        EventPattern: { source: ['orders'], detail: { total: [{ numeric: ['>', 100] }] } },
        Targets: [{ Id: 'fn', Arn: FN }],
      }),
      context,
    );

    // Act
    const result = await provider.putEvents([
      { Source: 'orders', DetailType: 'OrderPlaced', Detail: '{"total":150}', Resources: ['r1'] },
      { Source: 'orders', DetailType: 'OrderPlaced', Detail: '{"total":50}' },
      { Source: 'orders', DetailType: 'OrderPlaced', Detail: 'not json' },
      { Source: '', DetailType: 'OrderPlaced', Detail: '{}' },
    ]);
    await provider.settled();

    // Assert
    expect(deployed).toEqual({
      ref: 'on-order',
      attributes: { Arn: 'arn:aws:events:us-east-1:000000000000:rule/on-order' },
    });
    expect(result.FailedEntryCount).toBe(2);
    expect(result.Entries[2]).toEqual({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
    expect(result.Entries[3]?.ErrorCode).toBe('InvalidArgument');
    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.event).toEqual({
      version: '0',
      id: result.Entries[0]?.EventId,
      'detail-type': 'OrderPlaced',
      source: 'orders',
      account: '000000000000',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: 'us-east-1',
      resources: ['r1'],
      detail: { total: 150 },
    });
  });

  it('applies Input and InputPath, and logs a failed delivery', async () => {
    // Prepare
    const { provider, context, invocations, logs } = setup();
    await provider.deploy?.(
      rule('Many', {
        EventPattern: '{"source":["s"]}',
        Targets: [
          { Id: 'constant', Arn: FN, Input: '{"fixed":true}' },
          { Id: 'path', Arn: FN, InputPath: '$.detail.order' },
          { Id: 'broken', Arn: `${FN}:broken` },
        ],
      }),
      context,
    );

    // Act
    await provider.putEvents([{ Source: 's', DetailType: 'd', Detail: '{"order":{"id":7}}' }]);
    await provider.settled();

    // Assert
    expect(invocations.map((call) => call.event).slice(0, 2)).toEqual([{ fixed: true }, { id: 7 }]);
    expect(logs.some((line) => line.includes('target broken') && line.includes('boom'))).toBe(true);
  });

  it('rejects an oversized PutEvents and events for an unknown bus', async () => {
    const { provider } = setup();
    await expect(
      provider.putEvents([
        { Source: 's', DetailType: 'd', Detail: JSON.stringify({ x: 'y'.repeat(256 * 1024) }) },
      ]),
    ).rejects.toThrow('over the limit');
    const result = await provider.putEvents([
      { Source: 's', DetailType: 'd', Detail: '{}', EventBusName: 'nope' },
    ]);
    expect(result.Entries[0]?.ErrorCode).toBe('ResourceNotFoundException');
  });

  it('fires a rate rule on its interval, skips it while disabled, and clears timers on stop', async () => {
    // Prepare
    const { provider, context, clock, invocations } = setup();
    await provider.deploy?.(
      rule('Tick', { Name: 'tick', ScheduleExpression: 'rate(1 minute)', Targets: [{ Id: 'fn', Arn: FN }] }),
      context,
    );

    // Act
    clock.fire();
    await provider.settled();
    await provider.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      body: Buffer.from('{"Name":"tick"}'),
      region: 'us-east-1',
      target: 'AWSEvents.DisableRule',
    });
    clock.fire();
    await provider.settled();
    const armedBeforeStop = clock.timers.size;
    await provider.stop?.();

    // Assert
    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.event).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/tick'],
      detail: {},
    });
    expect(armedBeforeStop).toBe(1);
    expect([...clock.timers.values()][0]?.ms ?? 0).toBeLessThanOrEqual(60_000);
    expect(clock.timers.size).toBe(0);
  });

  it('deploys a cron rule with L as a warning, not a failure', async () => {
    const { provider, context, logs, clock } = setup();
    await provider.deploy?.(rule('Monthly', { ScheduleExpression: 'cron(0 0 L * ? *)' }), context);
    expect(logs.join('\n')).toContain('not supported by the local runtime');
    expect(clock.timers.size).toBe(0);
  });

  it('deploys an event bus and routes events on it', async () => {
    const { provider, context, invocations } = setup();
    const bus = await provider.deploy?.(
      { logicalId: 'Bus', type: 'AWS::Events::EventBus', properties: { Name: 'agents' }, metadata: {} },
      context,
    );
    const deployed = await provider.deploy?.(
      rule('OnBus', {
        EventBusName: bus?.attributes?.Arn,
        EventPattern: { source: ['a'] },
        Targets: [{ Id: 'fn', Arn: FN }],
      }),
      context,
    );
    await provider.putEvents([{ Source: 'a', DetailType: 'd', Detail: '{}', EventBusName: 'agents' }]);
    await provider.putEvents([{ Source: 'a', DetailType: 'd', Detail: '{}' }]);
    await provider.settled();
    expect(bus?.ref).toBe('agents');
    expect(deployed?.ref).toMatch(/^MasterOrchestrator-OnBus-[0-9A-F]{12}$/);
    expect(deployed?.attributes?.Arn).toContain(':rule/agents/');
    expect(invocations).toHaveLength(1);
  });
});
