import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** SQS's own rule of thumb for Lambda consumers: visibility at least 6 × the function timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

export interface AgentQueueProps {
  /**
   * The longest one receive may take the consumer (a Lambda consumer: its timeout).
   * The visibility timeout is at least {@link VISIBILITY_TIMEOUT_FACTOR} times this. Required.
   */
  readonly consumerTimeout: Duration;

  /**
   * Visibility timeout of the main queue; at least 6 × `consumerTimeout` (synth fails otherwise).
   * @default - 6 × consumerTimeout
   */
  readonly visibilityTimeout?: Duration;

  /**
   * Receives before a message moves to the DLQ.
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * How long the main queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly retentionPeriod?: Duration;

  /**
   * How long the DLQ keeps a message, for manual inspection and redrive.
   * @default Duration.days(14) (the SQS maximum)
   */
  readonly dlqRetentionPeriod?: Duration;
}

/**
 * An agent's work queue: SSE-SQS encryption, TLS-only access, a dead-letter queue after
 * `maxReceiveCount` receives, and an alarm as soon as the DLQ holds a message. The stack's
 * `Operations` construct gives the alarm its action (the alarm topic).
 *
 * @example
 * const queue = new AgentQueue(this, 'NetworkQueue', { consumerTimeout: fn.timeout });
 * queue.grantSendMessages(stateMachine);
 */
export class AgentQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** `ApproximateNumberOfMessagesVisible > 0` on the DLQ, one 1-minute datapoint. */
  readonly dlqAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AgentQueueProps) {
    super(scope, id);
    const minimumVisibility = props.consumerTimeout.toSeconds() * VISIBILITY_TIMEOUT_FACTOR;
    const visibilityTimeout = props.visibilityTimeout ?? Duration.seconds(minimumVisibility);
    if (visibilityTimeout.toSeconds() < minimumVisibility) {
      throw new Error(
        `${this.node.path}: visibilityTimeout ${visibilityTimeout.toSeconds()} s is under ${VISIBILITY_TIMEOUT_FACTOR} × consumerTimeout (${minimumVisibility} s)`,
      );
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.dlqRetentionPeriod ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: props.retentionPeriod,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });

    this.dlqAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Messages in the dead-letter queue of ${this.node.path}: an agent task failed ${props.maxReceiveCount ?? 5} receives and needs manual attention (GET dlq, POST dlq/redrive).`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  get queueUrl(): string {
    return this.queue.queueUrl;
  }

  get queueArn(): string {
    return this.queue.queueArn;
  }

  get deadLetterQueueUrl(): string {
    return this.deadLetterQueue.queueUrl;
  }

  /** Lets `grantee` send to the main queue (the recovery workflow's dispatch). */
  grantSendMessages(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }
}
