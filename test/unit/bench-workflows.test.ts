import { RecoveryWorkflowRequest } from '#core/wire';
import type { UsageCounters } from '#local/runtime/edge';
import {
  functionRole,
  layeredSteps,
  PRICES,
  planBody,
  priceOf,
  realSchedule,
  splitAtLayers,
  usageDelta,
} from '../../bench/workflows';

describe('layeredSteps and planBody', () => {
  it('builds an acyclic layered plan the API accepts, each step depending on the layer before', () => {
    const steps = layeredSteps(50, 10, 3, [200, 1_500]);
    const layerOf = (id: string) => Math.floor(Number(id.slice(1)) / 10);
    for (const step of steps) {
      for (const dep of step.depends_on) expect(layerOf(dep)).toBe(layerOf(step.step_id) - 1);
      expect(step.delay_ms).toBeGreaterThanOrEqual(200);
      expect(step.delay_ms).toBeLessThanOrEqual(1_500);
    }
    expect(steps.filter((s) => s.depends_on.length === 0)).toHaveLength(10);
    expect(RecoveryWorkflowRequest.safeParse(planBody('bench-x', steps)).success).toBe(true);
  });

  it('splits at layer boundaries, and drops only dependencies on an earlier part', () => {
    const steps = layeredSteps(1_000, 35, 1);
    const parts = splitAtLayers(steps, 35, 350);
    expect(parts.map((p) => p.length)).toEqual([350, 350, 300]);
    const second = planBody('p', parts[1] ?? []).recovery_plan.steps;
    expect(second.slice(0, 35).every((s) => s.depends_on.length === 0)).toBe(true);
    expect(second.slice(35).every((s) => s.depends_on.length > 0)).toBe(true);
  });
});

describe('realSchedule', () => {
  it('measures makespan, the longest chain of real step times, and busy time', () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 10, 24) + ms).toISOString();
    const step = (step_id: string, depends_on: string[], start: number, end: number) => ({
      step_id,
      agent_id: 'a',
      wave: 0,
      depends_on,
      started_at: at(start),
      completed_at: at(end),
    });
    const schedule = realSchedule([
      step('a', [], 0, 1_000),
      step('b', [], 0, 300),
      step('c', ['b'], 400, 1_000),
      step('d', ['a', 'c'], 1_100, 1_600),
    ]);
    expect(schedule).toEqual({ makespan_ms: 1_600, critical_path_ms: 1_500, busy_ms: 2_400 });
  });
});

describe('usageDelta and priceOf', () => {
  const counters = (scale: number): UsageCounters => ({
    requests: {
      dynamodb: { GetItem: 10 * scale, TransactWriteItems: 4 * scale },
      sqs: { SendMessage: 2 * scale },
      'execute-api': { Invoke: scale, PostToConnection: 3 * scale },
    },
    services: {
      lambda: {
        invocations: 6 * scale,
        gb_seconds: 0.5 * scale,
        log_bytes: 1_000 * scale,
        event_source_mappings: { receive_requests: 3 * scale, delete_batch_requests: scale },
        functions: {
          'Stack-RecoveryWorkflowFunction987CCC5A-J2JOIKQ': { invocations: 4 * scale },
          'Stack-ReferenceAgentsNetworkAgentFunct-61TBM6E': { invocations: 2 * scale },
        },
      },
      dynamodb: {
        read_units: 10 * scale,
        write_units: 16 * scale,
        transactions_cancelled: 2 * scale,
        conditional_failures: scale,
        operations: { GetItem: { read_units: 10 * scale, write_units: 0 } },
      },
      'execute-api': { message_units: 3 * scale, connection_ms: 60_000 * scale },
      events: { event_units: 3 * scale },
    },
  });

  it('subtracts two snapshots and groups functions by role', () => {
    const delta = usageDelta(counters(1), counters(3));
    expect(delta).toMatchObject({
      lambda_invocations: 12,
      lambda_gb_seconds: 1,
      invocations_by_function: { RecoveryWorkflow: 8, ReferenceAgents: 4 },
      dynamodb_read_units: 20,
      dynamodb_write_units: 32,
      dynamodb_requests: 28,
      dynamodb_units_by_operation: { GetItem: 20 },
      dynamodb_transactions_cancelled: 4,
      dynamodb_conditional_failures: 2,
      sqs_api_requests: 4,
      sqs_poller_requests: 8,
      rest_api_requests: 2,
      websocket_message_units: 6,
      websocket_connection_minutes: 2,
      eventbridge_events: 6,
    });
  });

  it('prices each line at the list prices and totals them', () => {
    const usd = priceOf(1_000, usageDelta(counters(0), counters(1)));
    expect(usd.step_functions).toBeCloseTo(1_000 * PRICES.state_transition.usd, 10);
    expect(usd.dynamodb).toBeCloseTo(
      16 * PRICES.dynamodb_write_unit.usd + 10 * PRICES.dynamodb_read_unit.usd,
      10,
    );
    // Each line is rounded to four significant digits.
    const { total, ...lines } = usd;
    expect(total).toBeCloseTo(
      Object.values(lines).reduce((a, b) => a + b, 0),
      4,
    );
  });

  it('names functions by their role', () => {
    expect(functionRole('MasterOrchestrator-RestApiIntakeFunctionAB12CD34-XYZ123')).toBe('RestApiIntake');
    expect(functionRole('MasterOrchestrator-ReferenceAgentsDataAgentFunction-JICX')).toBe('ReferenceAgents');
  });
});
