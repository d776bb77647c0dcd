#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME } from '../contract';
import { ConfigurationError } from '../lambda/domain/errors';
import { AutoRetryStack } from '../lib/auto-retry-stack';
import { autoRetryFromContext, type ConfigOrigin, parseAutoRetryConfig } from '../lib/config';
import type { PipelineAutoRetryProps } from '../lib/props';
import { ControlTowerChecks } from './control-tower';

const app = new App();
let autoRetry: PipelineAutoRetryProps;
let origin: ConfigOrigin = 'cdk.json';
try {
  // Validate before building anything so a bad configuration fails with only the messages that matter.
  const context = autoRetryFromContext(app.node.getAllContext());
  origin = context.origin;
  autoRetry = parseAutoRetryConfig(context.raw);
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  for (const problem of error.problems)
    process.stderr.write(`${origin === 'cdk.json' ? 'cdk.json' : 'context (-c autoRetry)'}: ${problem}\n`);
  process.exit(1);
}

// The region is the operator's to say. Without one the template is region-agnostic (its ARNs are
// tokens), instead of pinning the region the CDK CLI falls back to.
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (app.node.tryGetContext('region') as string | undefined);
if (!region) {
  process.stderr.write(
    'note: no region set (AWS_REGION, or -c region=…): the template is region-agnostic; cdk deploy uses your profile’s region\n',
  );
}

new AutoRetryStack(app, String(app.node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME), {
  description: 'codepipeline-auto-retry: retries failed CodePipeline stages by policy',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
  autoRetry,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new ControlTowerChecks(app));
