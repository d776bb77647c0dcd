import { CfnOutput, CliCredentialsStackSynthesizer, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { memberRoleName, physicalNames } from '../contract';
import { accountProblem, namePrefixProblem, pipelineNameProblem, regionProblem } from '../policy/checks';
import { queueProps } from './defaults';
import { acknowledgeDeadLetterQueue, acknowledgeMemberRole } from './nag-suppressions';
import { reportProblems } from './policies';
import { grantPipelines, grantProviderReads } from './security';
import { StageEvents, stageEventRules } from './stage-event-rules';

export interface PipelineAutoRetryMemberProps {
  /** The account of the central stack (the one PipelineAutoRetry with `organization`). */
  readonly centralAccount: string;
  /** The region of the central stack, where its event bus is. */
  readonly centralRegion: string;
  /**
   * The pipelines of this account and region whose events are forwarded and which the central
   * function may read and retry.
   * @default - every pipeline of this account and region
   */
  readonly watchedPipelines?: string[];
  /**
   * Base name of the role the central function assumes; the region is appended. Must match the
   * central stack's `organization.memberRoleName`.
   * @default `${namePrefix}-member`
   */
  readonly memberRoleName?: string;
  /**
   * The AWS Organization both accounts belong to: the role's trust then also requires it.
   * @default - the trust names the central role only
   */
  readonly organizationId?: string;
  /**
   * The start of the physical names an organization deployment fixes: the central event bus
   * (`<prefix>`), the central function's role (`<prefix>-central`) and the member role's default
   * base name (`<prefix>-member`). Give a second deployment in the same accounts (a staging copy)
   * another prefix, on the central and the member stacks alike. 1-30 of [A-Za-z0-9-].
   * @default 'codepipeline-auto-retry'
   */
  readonly namePrefix?: string;
}

/** What a member with bad props is built from: `cdk synth` fails on their annotations, so it never reaches an account. */
const NEVER_DEPLOYED: PipelineAutoRetryMemberProps = { centralAccount: '000000000000', centralRegion: 'us-east-1' };

/**
 * The light part each member account and region deploys: a rule that forwards CodePipeline stage
 * FAILED (and SUCCEEDED-after-retry) events to the central bus, and a role that only the central
 * retry function can assume, holding the scoped CodePipeline permissions and nothing else.
 */
export class PipelineAutoRetryMember extends Construct {
  /** The role the central function assumes for this account and region. */
  public readonly role: iam.IRole;
  /** The forwarding rules (one per event kind; more when a long watch list is split). */
  public readonly rules: events.IRule[];
  /** Events EventBridge could not deliver to the central bus. */
  public readonly deadLetterQueue: sqs.IQueue;

  public constructor(scope: Construct, id: string, props: PipelineAutoRetryMemberProps) {
    super(scope, id);
    // Bad props are error annotations (one line each in `cdk synth`, which then fails), and a
    // placeholder that is never deployed is built instead, so nothing below trips over them.
    const problems = memberProblems(props);
    reportProblems(this, problems);
    const built: PipelineAutoRetryMemberProps = problems.length === 0 ? props : NEVER_DEPLOYED;
    const stack = Stack.of(this);
    const watch = built.watchedPipelines ?? 'all';
    const names = physicalNames(built.namePrefix);
    const centralRoleArn = `arn:${stack.partition}:iam::${built.centralAccount}:role/${names.centralRole}`;

    const role = new iam.Role(this, 'MemberRole', {
      roleName: memberRoleName(built.memberRoleName ?? names.memberRoleBase, stack.region),
      description: 'codepipeline-auto-retry: the central retry function reads and retries the pipelines of this account',
      // The central account may hand this role to exactly one of its roles: the retry function's.
      assumedBy: new iam.AccountPrincipal(built.centralAccount).withConditions({
        ArnEquals: { 'aws:PrincipalArn': centralRoleArn },
        ...(built.organizationId ? { StringEquals: { 'aws:PrincipalOrgID': built.organizationId } } : {}),
      }),
    });
    grantPipelines(role, watch);
    grantProviderReads(role);
    acknowledgeMemberRole(role, watch);
    this.role = role;

    this.deadLetterQueue = new sqs.Queue(this, 'ForwardDeadLetterQueue', queueProps());
    acknowledgeDeadLetterQueue(this.deadLetterQueue);
    const bus = events.EventBus.fromEventBusArn(
      this,
      'CentralBus',
      `arn:${stack.partition}:events:${built.centralRegion}:${built.centralAccount}:event-bus/${names.centralBus}`,
    );
    const target = new targets.EventBus(bus, { deadLetterQueue: this.deadLetterQueue });
    this.rules = [
      ...stageEventRules(this, {
        id: 'ForwardStageFailed',
        description: 'CodePipeline stage FAILED events to codepipeline-auto-retry',
        watch,
        detail: StageEvents.failed,
        target,
      }),
      ...stageEventRules(this, {
        id: 'ForwardStageSucceededAfterRetry',
        description: 'CodePipeline stage SUCCEEDED events after a retry to codepipeline-auto-retry',
        watch,
        detail: StageEvents.succeededAfterRetry,
        target,
      }),
    ];
  }
}

function memberProblems(props: PipelineAutoRetryMemberProps): string[] {
  const found = [
    accountProblem(props.centralAccount, 'centralAccount'),
    regionProblem(props.centralRegion, 'centralRegion'),
    ...(props.watchedPipelines ?? []).map((p, i) => pipelineNameProblem(p, `watchedPipelines[${i}]`)),
    props.namePrefix === undefined ? undefined : namePrefixProblem(props.namePrefix, 'namePrefix'),
  ];
  return found.filter((p): p is string => p !== undefined);
}

export interface MemberStackProps extends StackProps {
  readonly member: PipelineAutoRetryMemberProps;
}

/** One member account and region: `cdk deploy` it there (no bootstrap needed), or use its template in a StackSet. */
export class MemberStack extends Stack {
  public readonly member: PipelineAutoRetryMember;

  public constructor(scope: Construct, id: string, props: MemberStackProps) {
    // No assets and no bootstrap: a member account needs neither `cdk bootstrap` nor, as a
    // StackSet template, the bootstrap version check.
    super(scope, id, { synthesizer: new CliCredentialsStackSynthesizer(), ...props });
    this.member = new PipelineAutoRetryMember(this, 'Member', props.member);
    new CfnOutput(this, 'MemberRoleArn', { value: this.member.role.roleArn, description: 'the role the central retry function assumes' });
  }
}
