#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME } from '../contract';
import { AutoRetryStack } from '../lib/auto-retry-stack';
import { deploymentOf, propsOfConfig } from '../lib/config';
import { MemberStack } from '../lib/member';
import { readConfig } from '../policy/config';
import { autoRetryFromContext, type ConfigOrigin } from '../policy/context';
import { ConfigurationError } from '../policy/errors';
import { ControlTowerChecks } from './control-tower';

const app = new App();

/** Stops the synth with one line per problem, each naming where the configuration came from. */
function refuse(problems: readonly string[], origin: ConfigOrigin): never {
  for (const problem of problems) process.stderr.write(`${origin === 'cdk.json' ? 'cdk.json' : 'context (-c autoRetry)'}: ${problem}\n`);
  process.exit(1);
}

// The context is read and checked once, before anything is built, so a bad configuration fails
// with only the messages that matter; the construct's own check of its props then finds nothing.
let context: ReturnType<typeof autoRetryFromContext>;
try {
  context = autoRetryFromContext(app.node.getAllContext());
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  refuse(error.problems, 'cdk.json');
}
const config = readConfig(context.raw);
if (config.problems.length > 0) refuse(config.problems, context.origin);
const autoRetry = propsOfConfig(config);
const deployment = deploymentOf(config.settings);

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
    watchedPipelines: autoRetry.watchedPipelines,
    memberRoleName: org?.memberRoleName,
    organizationId: org?.organizationId,
    namePrefix: autoRetry.namePrefix,
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

// cdk-nag's EventBusOpenAccess rule reads CfnEventBusPolicy#principal, which jsii reports as
// deprecated on every organization synth; the read is the rule's, not ours, so its notice is
// kept out of the output while the checks run. (Our own code is compiled with jsii's
// --fail-on-warnings and uses no deprecated API.)
const deprecations = process.env.JSII_DEPRECATED;
process.env.JSII_DEPRECATED = 'quiet';
try {
  app.synth();
} finally {
  if (deprecations === undefined) delete process.env.JSII_DEPRECATED;
  else process.env.JSII_DEPRECATED = deprecations;
}
