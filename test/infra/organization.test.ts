import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AutoRetryStack } from '../../lib/auto-retry-stack';
import { deploymentOf, parseAutoRetryConfig } from '../../lib/config';
import { MemberStack, type PipelineAutoRetryMemberProps } from '../../lib/member';
import type { OrganizationProps } from '../../lib/props';
import { synthErrors, synthWithNag } from '../support/nag';

const CENTRAL = { account: '111111111111', region: 'us-east-1' };
const MEMBER = { account: '222222222222', region: 'eu-west-1' };

/** No bundling: these tests look at the templates, not the function code. */
const newApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });
/** The feature flags cdk.json sets: the recommended ones, as `cdk init` writes them into a new app. */
const FEATURE_FLAGS = Object.fromEntries(
  Object.entries(
    (JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context,
  ).filter(([key]) => key.startsWith('@aws-cdk')),
);

function central(organization: OrganizationProps, app = newApp()): Template {
  return Template.fromStack(new AutoRetryStack(app, 'Central', { env: CENTRAL, autoRetry: { organization } }));
}

function member(props: Partial<PipelineAutoRetryMemberProps> = {}, app = newApp()): Template {
  const stack = new MemberStack(app, 'Member', {
    env: MEMBER,
    member: { centralAccount: CENTRAL.account, centralRegion: CENTRAL.region, ...props },
  });
  return Template.fromStack(stack);
}

/** An ARN as the template writes it: its partition a reference. */
const partitioned = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });

describe('Stack: the central stack of an organization', () => {
  it('admits PutEvents on its bus from the listed accounts only', () => {
    // Act
    const template = central({ memberAccounts: [MEMBER.account] });

    // Assess
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'codepipeline-auto-retry' });
    template.hasOutput('CentralBusArn', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('CentralBus'), 'Arn'] } });
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({
        Action: 'events:PutEvents',
        Effect: 'Allow',
        Principal: { AWS: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([`:iam::${MEMBER.account}:root`])] }) },
      }),
    });
  });

  it('admits the whole organization with aws:PrincipalOrgID when given an organization id', () => {
    // Act
    const template = central({ organizationId: 'o-abcdefghij' });

    // Assess
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      Statement: Match.objectLike({ Principal: { AWS: '*' }, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abcdefghij' } } }),
    });
  });

  it('routes members’ FAILED events from the bus to the function, for member accounts only', () => {
    // Act
    const template = central({ memberAccounts: [MEMBER.account], memberRegions: [MEMBER.region] });

    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('CentralBus') },
      EventPattern: Match.objectLike({ account: [CENTRAL.account, MEMBER.account], detail: Match.objectLike({ state: ['FAILED'] }) }),
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('RetryFunction'), 'Arn'] } })],
    });
  });

  it('lets the function assume the member roles by name and tells it who the members are', () => {
    // Act
    const template = central({ memberAccounts: [MEMBER.account], memberRegions: [MEMBER.region] });

    // Assess
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'codepipeline-auto-retry-central' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AssumeMemberRoles',
            Action: 'sts:AssumeRole',
            Resource: Match.arrayWith([
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${MEMBER.account}:role/codepipeline-auto-retry-member-*`]] },
            ]),
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          HOME_ACCOUNT: CENTRAL.account,
          HOME_REGION: CENTRAL.region,
          MEMBER_ACCOUNTS: MEMBER.account,
          MEMBER_REGIONS: MEMBER.region,
          MEMBER_ROLE_NAME: 'codepipeline-auto-retry-member',
        }),
      },
    });
  });

  it('keeps a single-account stack free of the bus, the fixed role name and the organization settings', () => {
    // Act
    const template = Template.fromStack(new AutoRetryStack(newApp(), 'Single', { env: CENTRAL }));

    // Assess
    template.resourceCountIs('AWS::Events::EventBus', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ HOME_ACCOUNT: Match.absent() }) },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('codepipeline-auto-retry-central');
  });

  it.each<[string, OrganizationProps, string]>([
    ['neither accounts nor an organization', {}, 'needs memberAccounts'],
    ['a short account id', { memberAccounts: ['1234'] }, 'memberAccounts[0] must be a 12-digit account id'],
    ['a malformed organization id', { organizationId: 'org-1' }, 'organizationId must be an AWS Organizations id'],
    ['a region that is not one', { memberAccounts: [MEMBER.account], memberRegions: ['Europe'] }, 'memberRegions[0] must be an AWS region'],
  ])('refuses %s with a message naming the field', (_case, organization, message) => {
    // Act
    const found = synthErrors(new AutoRetryStack(newApp(), 'Central', { env: CENTRAL, autoRetry: { organization } }));

    // Assess
    expect(found).toEqual([expect.stringContaining(message)]);
  });
});

describe('Stack: a member stack', () => {
  it('trusts only the central retry role, and the organization when given', () => {
    // Act
    const template = member({ organizationId: 'o-abcdefghij' });

    // Assess
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: `codepipeline-auto-retry-member-${MEMBER.region}`,
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${CENTRAL.account}:root`]] } },
            Condition: {
              ArnEquals: {
                'aws:PrincipalArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${CENTRAL.account}:role/codepipeline-auto-retry-central`]],
                },
              },
              StringEquals: { 'aws:PrincipalOrgID': 'o-abcdefghij' },
            },
          }),
        ],
      },
    });
  });

  it('holds the scoped CodePipeline permissions and the provider reads, and nothing else', () => {
    // Act
    const template = member({ watchedPipelines: ['web-app'] });

    // Assess
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('codepipeline:'),
    ) as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }[];
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s) => s.Action));
    expect(actions.sort()).toEqual([
      'cloudformation:DescribeStackEvents',
      'codebuild:BatchGetBuilds',
      'codebuild:DescribeTestCases',
      'codedeploy:GetDeployment',
      'codepipeline:GetPipeline',
      'codepipeline:GetPipelineExecution',
      'codepipeline:GetPipelineState',
      'codepipeline:ListActionExecutions',
      'codepipeline:RetryStageExecution',
    ]);
    expect(JSON.stringify(policies)).toContain(`:codepipeline:${MEMBER.region}:${MEMBER.account}:web-app/*`);
  });

  it('reads the providers behind failed actions in its own account and region only', () => {
    // Act
    const template = member({ watchedPipelines: ['web-app'] });

    // Assess
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ReadFailureProviders',
            Resource: [
              partitioned(`:codebuild:${MEMBER.region}:${MEMBER.account}:project/*`),
              partitioned(`:codebuild:${MEMBER.region}:${MEMBER.account}:report-group/*`),
              partitioned(`:codedeploy:${MEMBER.region}:${MEMBER.account}:deploymentgroup:*/*`),
              partitioned(`:cloudformation:${MEMBER.region}:${MEMBER.account}:stack/*/*`),
            ],
          }),
        ]),
      },
    });
  });

  it('forwards stage FAILED and SUCCEEDED-after-retry events to the central bus, with a dead-letter queue', () => {
    // Act
    const template = member();

    // Assess
    const bus = {
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, `:events:${CENTRAL.region}:${CENTRAL.account}:event-bus/codepipeline-auto-retry`],
      ],
    };
    for (const detail of [{ state: ['FAILED'] }, { state: ['SUCCEEDED'], 'stage-last-retry-attempt-time': [{ exists: true }] }]) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['aws.codepipeline'], 'detail-type': ['CodePipeline Stage Execution State Change'], detail },
        Targets: [Match.objectLike({ Arn: bus, DeadLetterConfig: Match.anyValue(), RoleArn: Match.anyValue() })],
      });
    }
  });

  it('needs no bootstrap in the member account, so its template also serves a StackSet', () => {
    // Act
    const template = member().toJSON() as { Parameters?: Record<string, unknown>; Rules?: Record<string, unknown> };

    // Assess
    expect(template.Parameters?.BootstrapVersion).toBeUndefined();
    expect(template.Rules?.CheckBootstrapVersion).toBeUndefined();
  });

  it('refuses a central account that is not an account id', () => {
    // Act
    const found = synthErrors(
      new MemberStack(newApp(), 'Member', { env: MEMBER, member: { centralAccount: 'central', centralRegion: CENTRAL.region } }),
    );

    // Assess
    expect(found).toEqual([expect.stringContaining('centralAccount must be a 12-digit account id')]);
  });
});

describe('App: synth of an organization from cdk.json', () => {
  it('plans a member stack per member account and region, and the central account in its other regions', () => {
    // Act
    const deployment = deploymentOf({
      organization: {
        centralAccount: CENTRAL.account,
        centralRegion: CENTRAL.region,
        memberAccounts: [MEMBER.account],
        memberRegions: [MEMBER.region],
      },
    });

    // Assess
    expect(deployment?.central).toEqual(CENTRAL);
    expect(deployment?.members).toEqual([
      { account: CENTRAL.account, region: MEMBER.region },
      { account: MEMBER.account, region: CENTRAL.region },
      { account: MEMBER.account, region: MEMBER.region },
    ]);
  });

  it('reads account defaults and account-scoped pipeline policies into props', () => {
    // Act
    const props = parseAutoRetryConfig({
      accounts: { [MEMBER.account]: { maxRetries: 1 } },
      pipelines: { [`${MEMBER.account}/web-app`]: { maxRetries: 0 } },
      organization: { centralAccount: CENTRAL.account, centralRegion: CENTRAL.region, memberAccounts: [MEMBER.account] },
    });

    // Assess
    expect(props.accounts).toEqual({ [MEMBER.account]: { maxRetries: 1 } });
    expect(props.pipelines).toEqual({ [`${MEMBER.account}/web-app`]: { maxRetries: 0 } });
    expect(props.organization).toEqual({ memberAccounts: [MEMBER.account] });
  });

  it('names a missing central account in one line', () => {
    // Act
    const parse = () => parseAutoRetryConfig({ organization: { centralRegion: CENTRAL.region, memberAccounts: [MEMBER.account] } });

    // Assess
    expect(parse).toThrow('autoRetry.organization.centralAccount must be the 12-digit account of the central stack');
  });

  it.each<[string, Record<string, unknown>]>([
    ['with no feature flags set', {}],
    ["with cdk.json's recommended feature flags, as a cdk init app sets them", FEATURE_FLAGS],
  ])('passes cdk-nag and the Control Tower controls for the central and a member stack, %s', (_flags, flags) => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...flags } });
    new AutoRetryStack(app, 'Central', {
      env: CENTRAL,
      autoRetry: { organization: { memberAccounts: [MEMBER.account], memberRegions: [MEMBER.region] } },
    });
    new MemberStack(app, 'Member', { env: MEMBER, member: { centralAccount: CENTRAL.account, centralRegion: CENTRAL.region } });

    // Act
    const error = synthWithNag(app);

    // Assess
    expect(error).toBeUndefined();
  });
});
