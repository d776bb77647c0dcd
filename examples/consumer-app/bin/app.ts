#!/usr/bin/env node
// A CDK app of your own that adds codepipeline-auto-retry next to your other stacks.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { PipelineAutoRetry, RetryJitter, StageRetryMode } from 'codepipeline-auto-retry';

const app = new App();
const stack = new Stack(app, 'PlatformAutoRetry', { env: { region: process.env.AWS_REGION ?? 'eu-west-1' } });

// Its outputs (the table, the operator policy, the dashboard) come with it: the CLI finds the
// table by itself (autoretry --stack PlatformAutoRetry …).
new PipelineAutoRetry(stack, 'AutoRetry', {
  watchedPipelines: ['web-app', 'payments'],
  defaultPolicy: { maxRetries: 2, cooldown: Duration.minutes(1), jitter: RetryJitter.SPREAD },
  pipelines: {
    'web-app': {
      stages: {
        Test: { maxRetries: 3, retryOn: [{ provider: ['CodeBuild'], message: 'timed out|ECONNRESET' }] },
      },
    },
    payments: {
      budget: { maxRetries: 10, window: Duration.hours(1) },
      stages: { Deploy: { retryMode: StageRetryMode.ALL_ACTIONS, cooldown: Duration.minutes(5) } },
    },
  },
  notifications: { emails: ['platform-oncall@example.com'] },
});
