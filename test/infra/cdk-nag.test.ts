import { App, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../infra/app';

/** Skips esbuild: these tests are about validation, not bundles. */
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/** A one-queue app under the AwsSolutions plugin, registered as infra/app.ts registers it. */
function appWithUnencryptedQueue(): { app: App; queue: sqs.Queue } {
  const app = new App();
  const stack = new Stack(app, 'NagProbe');
  const queue = new sqs.Queue(stack, 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, queue };
}

describe('cdk-nag 3 as a validation plugin', () => {
  it('fails synth on an unacknowledged finding', () => {
    const { app } = appWithUnencryptedQueue();

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2[\s\S]*NagProbe\/Queue\/Resource/);
  });

  it('passes synth once every finding is acknowledged with a reason', () => {
    const { app, queue } = appWithUnencryptedQueue();
    for (const id of ['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4']) {
      Validations.of(queue).acknowledge({ id, reason: 'a probe queue that exists only inside this test' });
    }

    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth when only some findings are acknowledged', () => {
    const { app, queue } = appWithUnencryptedQueue();
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS2', reason: 'only this one' });

    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});

describe('the orchestrator app', () => {
  it('fails synth when its stack gains a resource with an unacknowledged finding', () => {
    const { app, stack } = buildApp({ env: {}, context: NO_BUNDLING });
    new sqs.Queue(stack, 'UnencryptedQueue', { encryption: sqs.QueueEncryption.UNENCRYPTED });

    expect(() => app.synth()).toThrow(
      /AwsSolutions-SQS2[\s\S]*MasterOrchestrator\/UnencryptedQueue\/Resource/,
    );
  });

  it('synthesizes cleanly as built', () => {
    const { app } = buildApp({ env: {}, context: NO_BUNDLING });

    expect(() => app.synth()).not.toThrow();
  });
});
