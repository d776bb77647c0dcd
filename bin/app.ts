#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigurationError } from '../lambda/domain/errors';
import { AutoRetryStack } from '../lib/auto-retry-stack';
import { type AutoRetryConfig, parseAutoRetryConfig } from '../lib/config';

const app = new App();
const raw = app.node.tryGetContext('autoRetry') as unknown;
try {
  // Validate before building anything so a bad cdk.json fails with only the messages that matter.
  parseAutoRetryConfig(raw);
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  for (const problem of error.problems) process.stderr.write(`cdk.json: ${problem}\n`);
  process.exit(1);
}

new AutoRetryStack(app, String(app.node.tryGetContext('stackName') ?? 'CodePipelineAutoRetry'), {
  description: 'codepipeline-auto-retry: retries failed CodePipeline stages by policy',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  autoRetry: (raw ?? {}) as AutoRetryConfig,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
