import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AutoRetryStack } from '../../lib/auto-retry-stack';
import { parseAutoRetryConfig } from '../../lib/config';
import { MemberStack } from '../../lib/member';
import { synthErrors } from '../support/nag';

const CENTRAL = { account: '111111111111', region: 'us-east-1' };
const MEMBER = { account: '222222222222', region: 'eu-west-1' };
const newApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

function deployment(namePrefix: string | undefined): { central: Template; member: Template } {
  const app = newApp();
  const central = new AutoRetryStack(app, `Central${namePrefix ?? ''}`, {
    env: CENTRAL,
    autoRetry: { namePrefix, organization: { memberAccounts: [MEMBER.account] } },
  });
  const member = new MemberStack(app, `Member${namePrefix ?? ''}`, {
    env: MEMBER,
    member: { centralAccount: CENTRAL.account, centralRegion: CENTRAL.region, namePrefix },
  });
  return { central: Template.fromStack(central), member: Template.fromStack(member) };
}

describe('Props: namePrefix', () => {
  it.each([
    ['the default prefix', undefined, 'codepipeline-auto-retry'],
    ['a staging copy', 'staging-auto-retry', 'staging-auto-retry'],
  ])('names the bus, the central role and the member role after %s, on both sides alike', (_case, namePrefix, prefix) => {
    // Act
    const { central, member } = deployment(namePrefix);

    // Assess
    central.hasResourceProperties('AWS::Events::EventBus', { Name: prefix });
    central.hasResourceProperties('AWS::IAM::Role', { RoleName: `${prefix}-central` });
    const role = Object.values(member.findResources('AWS::IAM::Role', { Properties: { RoleName: `${prefix}-member-${MEMBER.region}` } }));
    expect(role).toHaveLength(1);
    // ARNs are joined with the partition: read them as the template's text.
    expect(JSON.stringify(role[0]?.Properties.AssumeRolePolicyDocument)).toContain(`:role/${prefix}-central"`);
    const rules = JSON.stringify(member.findResources('AWS::Events::Rule'));
    expect(rules).toContain(`:event-bus/${prefix}"`);
    central.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MEMBER_ROLE_NAME: `${prefix}-member` }) },
    });
  });

  it('refuses a prefix IAM names cannot carry, in props and in cdk.json', () => {
    // Act
    const props = synthErrors(new AutoRetryStack(newApp(), 'Bad', { env: CENTRAL, autoRetry: { namePrefix: 'has space' } }));
    const config = () => parseAutoRetryConfig({ namePrefix: 'x'.repeat(31) });

    // Assess
    expect(props).toEqual(['props.namePrefix must be 1-30 of [A-Za-z0-9-], starting with a letter or digit, got "has space"']);
    expect(config).toThrow(`autoRetry.namePrefix must be 1-30 of [A-Za-z0-9-], starting with a letter or digit, got "${'x'.repeat(31)}"`);
  });

  it('carries a cdk.json prefix into the props', () => {
    // Act / Assess
    expect(parseAutoRetryConfig({ namePrefix: 'staging-auto-retry' }).namePrefix).toBe('staging-auto-retry');
  });
});
