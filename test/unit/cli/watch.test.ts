import type { DomainEvent, WorkflowDetail } from '#core/wire';
import { EventSequencer, eventsBetween } from '../../../cli/watch';

const event = (seq: number, type: DomainEvent['type'] = 'step.dispatched'): DomainEvent => ({
  type,
  workflow_id: 'wf-1',
  status: 'DISPATCHED',
  completion_percentage: 0,
  eta_completion: null,
  seq,
  at: '2026-11-24T10:00:00Z',
});

describe('EventSequencer', () => {
  it('hands events out in seq order, holding back those after a gap', () => {
    // Prepare
    const sequencer = new EventSequencer();

    // Act
    const first = sequencer.accept(event(2));
    const held = sequencer.hasGap;
    const second = sequencer.accept(event(1));

    // Assess
    expect(first).toEqual([]);
    expect(held).toBe(true);
    expect(second.map((e) => e.seq)).toEqual([1, 2]);
    expect(sequencer.hasGap).toBe(false);
    expect(sequencer.lastSeq).toBe(2);
  });

  it('drops duplicates that a replay repeats', () => {
    const sequencer = new EventSequencer();
    sequencer.accept(event(1));
    sequencer.accept(event(2));

    expect(sequencer.accept(event(2))).toEqual([]);
    expect(sequencer.accept(event(1))).toEqual([]);
    expect(sequencer.accept(event(3)).map((e) => e.seq)).toEqual([3]);
  });
});

const detail = (status: WorkflowDetail['status'], steps: [string, string][]): WorkflowDetail =>
  ({
    workflow_id: 'wf-1',
    status,
    completion_percentage: 50,
    steps: steps.map(([step_id, stepStatus]) => ({
      step_id,
      issue_id: `${step_id}-issue`,
      agent_id: 'reference-network',
      status: stepStatus,
    })),
  }) as unknown as WorkflowDetail;

describe('eventsBetween (polling)', () => {
  it('describes a first snapshot from the start, numbered from 1', () => {
    // Act
    const events = eventsBetween(
      undefined,
      detail('RUNNING', [
        ['a', 'SUCCEEDED'],
        ['b', 'PENDING'],
      ]),
      0,
      'now',
    );

    // Assess
    expect(events.map((e) => [e.seq, e.type, e.step_id ?? null, e.status])).toEqual([
      [1, 'workflow.started', null, 'RUNNING'],
      [2, 'step.succeeded', 'a', 'SUCCEEDED'],
    ]);
    expect(events.every((e) => e.synthesized)).toBe(true);
  });

  it('reports only what changed since the last poll, ending with workflow.completed', () => {
    // Prepare
    const before = detail('RUNNING', [
      ['a', 'SUCCEEDED'],
      ['b', 'DISPATCHED'],
    ]);
    const after = detail('ROLLED_BACK', [
      ['a', 'COMPENSATED'],
      ['b', 'FAILED'],
    ]);

    // Act
    const events = eventsBetween(before, after, 4, 'now');

    // Assess
    expect(events.map((e) => [e.seq, e.type, e.step_id ?? null, e.status])).toEqual([
      [5, 'step.compensated', 'a', 'COMPENSATED'],
      [6, 'step.failed', 'b', 'FAILED'],
      [7, 'workflow.completed', null, 'ROLLED_BACK'],
    ]);
  });

  it('says nothing when nothing changed', () => {
    const same = detail('RUNNING', [['a', 'DISPATCHED']]);

    expect(eventsBetween(same, same, 3, 'now')).toEqual([]);
  });
});
