#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME } from '../contract';
import { ConfigurationError } from '../lambda/domain/errors';
import { AutoRetryStack } from '../lib/auto-retry-stack';
import { parseAutoRetryConfig } from '../lib/config';
import type { PipelineAutoRetryProps } from '../lib/props';
import { ControlTowerChecks } from './control-tower';

const app = new App();
let autoRetry: PipelineAutoRetryProps;
try {
  // Validate before building anything so a bad cdk.json fails with only the messages that matter.
  autoRetry = parseAutoRetryConfig(app.node.tryGetContext('autoRetry'));
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  for (const problem of error.problems) process.stderr.write(`cdk.json: ${problem}\n`);
  process.exit(1);
}

new AutoRetryStack(app, String(app.node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME), {
  description: 'codepipeline-auto-retry: retries failed CodePipeline stages by policy',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  autoRetry,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new ControlTowerChecks(app));
