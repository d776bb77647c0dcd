#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME } from '../contract';
import { AutoRetryStack } from '../lib/auto-retry-stack';
import { autoRetryFromContext, type ConfigOrigin, type Deployment, deploymentOf, parseAutoRetryConfig } from '../lib/config';
import { MemberStack } from '../lib/member';
import { resolveProps } from '../lib/policies';
import type { PipelineAutoRetryProps } from '../lib/props';
import { ConfigurationError } from '../policy/errors';
import { ControlTowerChecks } from './control-tower';

const app = new App();
let autoRetry: PipelineAutoRetryProps;
let deployment: Deployment | undefined;
let origin: ConfigOrigin = 'cdk.json';
try {
  // Validate before building anything so a bad configuration fails with only the messages that matter.
  const context = autoRetryFromContext(app.node.getAllContext());
  origin = context.origin;
  autoRetry = parseAutoRetryConfig(context.raw);
  resolveProps(autoRetry, 'autoRetry');
  deployment = deploymentOf(context.raw);
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  for (const problem of error.problems)
    process.stderr.write(`${origin === 'cdk.json' ? 'cdk.json' : 'context (-c autoRetry)'}: ${problem}\n`);
  process.exit(1);
}

const stackName = String(app.node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME);
if (deployment) {
  // An organization: the central stack where cdk.json says, and a member stack per account and region.
  new AutoRetryStack(app, stackName, {
    description: 'codepipeline-auto-retry: retries failed CodePipeline stages by policy (central account)',
    env: deployment.central,
    autoRetry,
  });
  const org = autoRetry.organization;
  const member = {
    centralAccount: deployment.central.account,
    centralRegion: deployment.central.region,
    ...(autoRetry.watchedPipelines ? { watchedPipelines: autoRetry.watchedPipelines } : {}),
    ...(org?.memberRoleName ? { memberRoleName: org.memberRoleName } : {}),
    ...(org?.organizationId ? { organizationId: org.organizationId } : {}),
  };
  for (const env of deployment.members) {
    new MemberStack(app, `${stackName}Member-${env.account}-${env.region}`, {
      description: 'codepipeline-auto-retry: forwards stage events to the central account and lets it retry here',
      env,
      member,
    });
  }
  // For a StackSet over an organization unit: one template with no account or region in it.
  if (org?.organizationId) {
    new MemberStack(app, `${stackName}Member`, {
      description: 'codepipeline-auto-retry member (StackSet template): forwards stage events to the central account',
      member,
    });
  }
}

if (!deployment) {
  // The region is the operator's to say. Without one the template is region-agnostic (its ARNs are
  // tokens), instead of pinning the region the CDK CLI falls back to.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (app.node.tryGetContext('region') as string | undefined);
  if (!region) {
    process.stderr.write(
      'note: no region set (AWS_REGION, or -c region=…): the template is region-agnostic; cdk deploy uses your profile’s region\n',
    );
  }

  new AutoRetryStack(app, stackName, {
    description: 'codepipeline-auto-retry: retries failed CodePipeline stages by policy',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region },
    autoRetry,
  });
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new ControlTowerChecks(app));
