/**
 * The workflow engine's writes on a running workflow: step and workflow transitions, each one
 * TransactWriteItems with its domain event (the protocol is in workflow-run.ts's file comment),
 * and clearing the backlog once a workflow ends. Only the workflow Lambda makes them; the API
 * functions read workflows through {@link WorkflowRunRepository} alone, so this code stays out
 * of their bundles.
 */
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { throughputEta } from '#core/progress';
import type { DomainEvent, WorkflowStatus } from '#core/wire';
import { decideTransition, STEP_TRANSITIONS } from '#core/workflow';
import { NotFoundError } from '#shared/errors';
import { asThrottled, cancellationCodes } from '#shared/repository/dynamo-errors';
import {
  buildEvent,
  type ChangeResult,
  EVENT_RETENTION_SECONDS,
  epochSeconds,
  eventKey,
  type Item,
  MAX_TRIES,
  mergeValues,
  percentage,
  type RunMeta,
  type RunStep,
  type StepChange,
  type StepRead,
  setExpression,
  TOKEN_RETENTION_SECONDS,
  type TransactItems,
  tokenHash,
  tokenKey,
  toMeta,
  toStep,
  WorkflowBusyError,
  type WorkflowChange,
  type WorkflowChangeResult,
  WorkflowRunRepository,
} from '#shared/repository/workflow-run';
import { GSI1, GSI1_PARTITIONS, keys, TTL_ATTRIBUTE } from '#shared/table-design';

export class WorkflowTransitions extends WorkflowRunRepository {
  /**
   * META and one step, read at once (strongly consistent): what a step change decides on.
   * Pass it on as {@link StepChange.read} so the change does not read them again.
   * @throws NotFoundError when the workflow or the step does not exist.
   * @example
   * const read = await runs.readStep('wf-1', 's1');
   * await runs.changeStep({ ...change, read });
   */
  async readStep(workflowId: string, stepId: string): Promise<StepRead & { step: RunStep }> {
    const [metaItem, stepItem] = await Promise.all([
      this.getItem(keys.workflow(workflowId)),
      this.getItem(keys.workflowStep(workflowId, stepId)),
    ]);
    if (!metaItem) throw new NotFoundError(`workflow ${workflowId} does not exist`);
    if (!stepItem) throw new NotFoundError(`step ${stepId} of workflow ${workflowId} does not exist`);
    return { metaItem, stepItem, step: toStep(stepItem) };
  }

  /** Applies one step transition with its event (see the file comment). */
  async changeStep(change: StepChange): Promise<ChangeResult> {
    for (let attempt = 0; ; attempt++) {
      const { metaItem, stepItem } =
        attempt === 0 && change.read ? change.read : await this.readStep(change.workflow_id, change.step_id);
      const meta = toMeta(metaItem);
      const step = toStep(stepItem);
      if (change.whileWorkflow && !change.whileWorkflow.includes(meta.status))
        return { outcome: 'WORKFLOW_MOVED_ON', step, workflow_status: meta.status };
      const decision = decideTransition(change.transition, step.status);
      if (decision === 'replay') return { outcome: 'REPLAY', step };
      if (decision === 'refuse') return { outcome: 'REFUSED', step };

      const to = STEP_TRANSITIONS[change.transition].to;
      const seq = meta.event_seq + 1;
      const succeeded = meta.steps_succeeded + (to === 'SUCCEEDED' ? 1 : 0);
      const event = buildEvent(change.event(step), {
        workflow_id: change.workflow_id,
        step_id: step.step_id,
        issue_id: step.issue_id,
        agent_id: step.agent_id,
        status: to,
        seq,
        at: change.now,
        completion_percentage: percentage(succeeded, meta.step_count),
        eta_completion:
          meta.status === 'RUNNING'
            ? throughputEta(meta.started_at, change.now, succeeded, meta.step_count)
            : null,
      });
      const set: Item = { ...change.set?.(step), status: to, updated_at: change.now };
      if (to === 'SUCCEEDED' || to === 'FAILED' || to === 'TIMED_OUT') set.completion_seq = seq;
      const expression = setExpression(set);
      const items: TransactItems = [
        this.#metaSeqUpdate(meta, seq, change.now, to === 'SUCCEEDED' ? 1 : 0, change.whileWorkflow),
        {
          Update: {
            TableName: this.table,
            Key: keys.workflowStep(change.workflow_id, change.step_id),
            UpdateExpression: expression.UpdateExpression,
            ConditionExpression: '#status = :was',
            ...mergeValues(expression, { ':was': step.status }, { '#status': 'status' }),
          },
        },
        this.#eventPut(event),
      ];
      if (change.token) {
        items.push({
          Put: {
            TableName: this.table,
            Item: {
              ...tokenKey(tokenHash(change.token.task_token)),
              entity: 'TASK_TOKEN',
              workflow_id: change.workflow_id,
              step_id: step.step_id,
              // A re-routed dispatch hands the token to the agent it moved to.
              agent_id: typeof set.agent_id === 'string' ? set.agent_id : step.agent_id,
              action: change.token.action,
              created_at: change.now,
              [TTL_ATTRIBUTE]: epochSeconds(change.now) + TOKEN_RETENTION_SECONDS,
            },
          },
        });
      }
      if (await this.#tryTransact(items, attempt)) {
        return { outcome: 'APPLIED', step: toStep({ ...stepItem, ...set }), event };
      }
    }
  }

  /** Moves the workflow's status, with an optional event. */
  async changeWorkflow(change: WorkflowChange): Promise<WorkflowChangeResult> {
    for (let attempt = 0; ; attempt++) {
      const metaItem = await this.getItem(keys.workflow(change.workflow_id));
      if (!metaItem) throw new NotFoundError(`workflow ${change.workflow_id} does not exist`);
      const meta = toMeta(metaItem);
      if (meta.status === change.to && !change.from.includes(meta.status)) return { outcome: 'REPLAY', meta };
      if (!change.from.includes(meta.status)) return { outcome: 'REFUSED', meta };
      const seq = change.event ? meta.event_seq + 1 : meta.event_seq;
      const set: Item = { ...change.set, status: change.to, updated_at: change.now, event_seq: seq };
      const expression = setExpression(set);
      const items: TransactItems = [
        {
          Update: {
            TableName: this.table,
            Key: keys.workflow(change.workflow_id),
            UpdateExpression: expression.UpdateExpression,
            ConditionExpression: '#status = :was AND event_seq = :seq0',
            ...mergeValues(
              expression,
              { ':was': meta.status, ':seq0': meta.event_seq },
              { '#status': 'status' },
            ),
          },
        },
      ];
      const event = change.event
        ? buildEvent(change.event, {
            workflow_id: change.workflow_id,
            status: change.to,
            seq,
            at: change.now,
            completion_percentage: percentage(meta.steps_succeeded, meta.step_count),
          })
        : undefined;
      if (event) items.push(this.#eventPut(event));
      if (await this.#tryTransact(items, attempt)) {
        return {
          outcome: 'APPLIED',
          meta: toMeta({ ...metaItem, ...set }),
          ...(event ? { event } : {}),
        };
      }
    }
  }

  /**
   * Takes the workflow's issues out of the backlog (GSI1 `BACKLOG`) once it has ended: they
   * are resolved, or no longer pending in any workflow.
   */
  async clearBacklog(workflowId: string): Promise<number> {
    const items = await this.queryItems({
      TableName: this.table,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :issue)',
      FilterExpression: '#gsi = :backlog',
      ExpressionAttributeNames: { '#gsi': GSI1.partitionKey },
      ExpressionAttributeValues: {
        ':pk': keys.workflow(workflowId).PK,
        ':issue': 'ISSUE#',
        ':backlog': GSI1_PARTITIONS.backlog,
      },
      ProjectionExpression: 'PK, SK',
    });
    for (const item of items) {
      await this.db
        .send(
          new UpdateCommand({
            TableName: this.table,
            Key: { PK: item.PK, SK: item.SK },
            UpdateExpression: 'REMOVE #gsi, #gsisk',
            ExpressionAttributeNames: { '#gsi': GSI1.partitionKey, '#gsisk': GSI1.sortKey },
          }),
        )
        .catch((error: unknown) => Promise.reject(asThrottled(error)));
    }
    return items.length;
  }

  #metaSeqUpdate(
    meta: RunMeta,
    seq: number,
    now: string,
    succeeded: number,
    whileWorkflow?: readonly WorkflowStatus[],
  ) {
    const statuses = Object.fromEntries((whileWorkflow ?? []).map((status, i) => [`:ws${i}`, status]));
    const statusCondition = whileWorkflow ? ` AND #status IN (${Object.keys(statuses).join(', ')})` : '';
    return {
      Update: {
        TableName: this.table,
        Key: keys.workflow(meta.workflow_id),
        UpdateExpression: 'SET event_seq = :seq, updated_at = :now ADD steps_succeeded :inc',
        ConditionExpression: `event_seq = :seq0${statusCondition}`,
        ...(whileWorkflow ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
        ExpressionAttributeValues: {
          ':seq': seq,
          ':seq0': meta.event_seq,
          ':now': now,
          ':inc': succeeded,
          ...statuses,
        },
      },
    };
  }

  #eventPut(event: DomainEvent) {
    return {
      Put: {
        TableName: this.table,
        Item: {
          ...eventKey(event.workflow_id, event.seq),
          entity: 'EVENT',
          event,
          [TTL_ATTRIBUTE]: epochSeconds(event.at) + EVENT_RETENTION_SECONDS,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  }

  /** True when committed; false when a concurrent change won (try again). */
  async #tryTransact(items: TransactItems, attempt: number): Promise<boolean> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      const raced = codes.includes('ConditionalCheckFailed') || codes.includes('TransactionConflict');
      if (!raced) throw asThrottled(error);
      if (attempt + 1 >= MAX_TRIES)
        throw new WorkflowBusyError(`gave up after ${MAX_TRIES} tries against concurrent changes`, {
          cause: error,
        });
      await this.pause(attempt);
      return false;
    }
  }
}
