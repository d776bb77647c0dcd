import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';

/**
 * The construct's public API. Kept within what jsii accepts (interfaces of readonly fields,
 * enums instead of string unions, no union types, `Duration` for times), so that a
 * multi-language build is a later step, not a rewrite.
 */

/** What a retry re-runs. */
export enum StageRetryMode {
  /** Re-run the failed actions only. */
  FAILED_ACTIONS = 'FAILED_ACTIONS',
  /** Re-run every action of the stage. */
  ALL_ACTIONS = 'ALL_ACTIONS',
}

/** Whether a policy acts or only says what it would do. */
export enum RetryPolicyMode {
  /** Retry as the policy says. */
  ENFORCE = 'enforce',
  /** Decide, log and record, but never call RetryStageExecution: for a safe roll-out. */
  OBSERVE = 'observe',
}

/** How waits are spread. */
export enum RetryJitter {
  /** Wait exactly the computed time. */
  NONE = 'none',
  /** Wait the computed time plus a random share of up to a quarter of it. */
  SPREAD = 'spread',
  /** Wait a random time between 0 and the computed time, so a fleet does not retry in lock-step. */
  FULL = 'full',
}

/** Built-in never-retry rules a policy may switch off. */
export enum BuiltInRetryRule {
  /** Rejected manual approvals are never retried. */
  APPROVAL_REJECTED = 'approval-rejected',
  /** Stages an operator stopped are never retried. */
  STAGE_STOPPED = 'stage-stopped',
  /** A CodeBuild action whose same set of tests failed again after our retry is not retried again. */
  SAME_TESTS_FAILED = 'same-tests-failed',
}

/**
 * Why a stage's action failed, as the function derives it from the action's provider (CodeBuild,
 * CodeDeploy, CloudFormation, a job's failure type): the vocabulary of a rule's `failureClasses`.
 */
export enum FailureClassName {
  /** The provider's own machinery failed: a build fleet that could not provision, an agent, an internal error. */
  INFRASTRUCTURE = 'infrastructure',
  /** The build, deployment or job ran out of time. */
  TIMEOUT = 'timeout',
  /** The provider, or a service it called, was throttled. */
  THROTTLED = 'throttled',
  /** Tests ran and some failed (CodeBuild test reports with failed cases). */
  TEST = 'test',
  /** The build itself failed, with no failed test cases to show for it. */
  BUILD = 'build',
  /** A deployment stopped by its health constraints, alarms or lifecycle hooks. */
  DEPLOYMENT_HEALTH = 'deployment-health',
  /** Something is set up wrong: a missing buildspec, application or instances, an invalid template, a name already taken. */
  CONFIGURATION = 'configuration',
  /** A role may not do what the action needs. */
  PERMISSION = 'permission',
  /** No provider answer told more, or the provider could not be asked. */
  UNKNOWN = 'unknown',
}

/**
 * A failure filter. Every field given must match a failed action; a field left out matches
 * anything. At least one field is required. `RetryOn.transientFailures()` gives the preset.
 */
export interface FailureRuleProps {
  /**
   * The failed action's `errorDetails.code`, e.g. `JobFailed`; any of these, case-insensitive.
   * @default - any code
   */
  readonly code?: string[];
  /**
   * A case-insensitive regular expression tried on the error message and on the action's summary.
   * @default - any message
   */
  readonly message?: string;
  /**
   * Action categories: Source, Build, Test, Deploy, Approval, Invoke, Compute; any of these.
   * @default - any category
   */
  readonly category?: string[];
  /**
   * Action providers, e.g. CodeBuild, CloudFormation, ECS; any of these.
   * @default - any provider
   */
  readonly provider?: string[];
  /**
   * Why the action failed, as its provider says (`class` in cdk.json and the CLI); any of these.
   * A policy with such a rule has its failures classified, which costs one provider call per
   * failed action (two for a build with test reports). An action that cannot be classified is
   * `UNKNOWN`.
   * @default - any class
   */
  readonly failureClasses?: FailureClassName[];
}

/** A per-pipeline circuit breaker: at most `maxRetries` automatic retries in any rolling `window`. */
export interface RetryBudgetProps {
  /** Retries allowed in the window, 1 to 1000. */
  readonly maxRetries: number;
  /** The rolling window, 1 minute to 7 days. */
  readonly window: Duration;
}

/**
 * A retry policy. Every field is optional and falls back, field by field, to the layer below:
 * stage, then pipeline, then the default policy, then the built-in policy.
 */
export interface RetryPolicyProps {
  /**
   * Automatic RetryStageExecution calls per stage execution, 0 to 10; 0 turns retries off.
   * @default 2
   */
  readonly maxRetries?: number;
  /**
   * Wait after the failure before the first retry, up to 12 hours.
   * @default Duration.seconds(0)
   */
  readonly cooldown?: Duration;
  /**
   * Each further retry waits this many times longer than the one before, 1 to 10.
   * @default 1
   */
  readonly backoff?: number;
  /**
   * No single wait is longer than this, up to 12 hours.
   * @default Duration.hours(12)
   */
  readonly maxCooldown?: Duration;
  /**
   * How waits are spread.
   * @default RetryJitter.SPREAD
   */
  readonly jitter?: RetryJitter;
  /**
   * No automatic retry once this long has passed since the stage first failed in the execution, up to 7 days.
   * @default - no window
   */
  readonly maxRetryWindow?: Duration;
  /**
   * What a retry re-runs. CloudFormation change-set stages default to ALL_ACTIONS unless a
   * pipeline or stage policy chooses.
   * @default StageRetryMode.FAILED_ACTIONS
   */
  readonly retryMode?: StageRetryMode;
  /**
   * Enforce the policy, or only observe what it would do.
   * @default RetryPolicyMode.ENFORCE
   */
  readonly mode?: RetryPolicyMode;
  /**
   * Retry only failures that match one of these rules. `RetryOn.transientFailures()` retries
   * infrastructure failures, timeouts and throttling only (cdk.json's `"retryOn": "transient"`).
   * @default - any failure
   */
  readonly retryOn?: FailureRuleProps[];
  /**
   * Never retry failures that match one of these rules; wins over `retryOn`.
   * @default - none
   */
  readonly neverRetryOn?: FailureRuleProps[];
  /**
   * Count CodePipeline's own onFailure retries and retries made by hand against `maxRetries`.
   * @default false
   */
  readonly countManualRetries?: boolean;
  /**
   * A per-pipeline retry budget (circuit breaker). Default and pipeline policies only.
   * @default - no budget
   */
  readonly budget?: RetryBudgetProps;
  /**
   * Built-in never-retry rules switched off for this scope.
   * @default - none
   */
  readonly overrideBuiltIns?: BuiltInRetryRule[];
}

/** A pipeline's policy, with per-stage overrides. */
export interface PipelineRetryPolicyProps extends RetryPolicyProps {
  /**
   * Per-stage policies, keyed by stage name.
   * @default - none
   */
  readonly stages?: { [stage: string]: RetryPolicyProps };
}

/** A Slack channel reached through AWS Chatbot. */
export interface SlackChannel {
  /** The Slack workspace id, such as T0123ABCD; authorise the workspace in the Chatbot console first. */
  readonly workspaceId: string;
  /** The Slack channel id, such as C0123ABCD. */
  readonly channelId: string;
}

/** Who hears about stages that run out of retries, failures not retried, and alarms. */
export interface NotificationOptions {
  /**
   * Email addresses subscribed to the notifications topic (each confirms by email).
   * @default - none
   */
  readonly emails?: string[];
  /**
   * A Slack channel through AWS Chatbot.
   * @default - none
   */
  readonly slack?: SlackChannel;
  /**
   * An existing topic to publish notifications and alarms to, instead of creating one. Its policy
   * must let CloudWatch alarms and the retry function publish, and its key (if any) let them use it.
   * @default - a topic encrypted with a key of its own is created
   */
  readonly topic?: sns.ITopic;
}

/** Alarm thresholds. */
export interface AlarmOptions {
  /**
   * Stages running out of retries within an hour that raise the alarm, 1 to 10000.
   * @default 5
   */
  readonly exhaustedPerHour?: number;
}

/** Metric options. */
export interface MetricOptions {
  /**
   * A Pipeline dimension for the pipelines named in the props (others count as "other"), so the
   * number of metric series stays bounded however many pipelines fail.
   * @default true
   */
  readonly pipelineDimensions?: boolean;
}

/** One deployment for many accounts: the central stack's side. Each member also deploys a MemberStack. */
export interface OrganizationProps {
  /**
   * Member accounts (12 digits) whose events the central bus admits and whose pipelines are
   * retried. The central account is always served.
   * @default - none; give this or organizationId
   */
  readonly memberAccounts?: string[];
  /**
   * Admit every account of this AWS Organization (`o-…`), checked by the bus with
   * `aws:PrincipalOrgID` and by the member role's trust.
   * @default - none; give this or memberAccounts
   */
  readonly organizationId?: string;
  /**
   * Regions members run pipelines in, each with a member stack.
   * @default - the central stack's region only
   */
  readonly memberRegions?: string[];
  /**
   * Base name of the member role (its region is appended, as roles are account-wide).
   * @default 'codepipeline-auto-retry-member'
   */
  readonly memberRoleName?: string;
}

export interface PipelineAutoRetryProps {
  /**
   * The pipelines whose failures are handled. A list filters the EventBridge rule and scopes IAM
   * to those pipelines' ARNs; a pipeline with a policy must be in it.
   * @default - every pipeline in the account and region
   */
  readonly watchedPipelines?: string[];
  /**
   * The policy for every watched pipeline and stage without one of its own.
   * @default - the built-in policy: 2 retries, no cooldown, FAILED_ACTIONS
   */
  readonly defaultPolicy?: RetryPolicyProps;
  /**
   * Per-pipeline policies, keyed by pipeline name (every account) or `<account>/<pipeline>` (one
   * account of an organization deployment, over the former field by field).
   * @default - none
   */
  readonly pipelines?: { [pipeline: string]: PipelineRetryPolicyProps };
  /**
   * Per-account defaults, keyed by 12-digit account id: between the default policy and a
   * pipeline's own.
   * @default - none
   */
  readonly accounts?: { [account: string]: RetryPolicyProps };
  /**
   * Serve member accounts too: a central event bus they forward to, and their roles assumed per event.
   * @default - this account and region only
   */
  readonly organization?: OrganizationProps;
  /**
   * How long the attempt ledger keeps a record (DynamoDB TTL), in whole days from 1 to 3650.
   * @default Duration.days(30)
   */
  readonly ledgerRetention?: Duration;
  /**
   * Who hears about failures not retried, exhausted retries and alarms.
   * @default - a new encrypted topic with no subscriptions
   */
  readonly notifications?: NotificationOptions;
  /**
   * Alarm thresholds.
   * @default - see AlarmOptions
   */
  readonly alarms?: AlarmOptions;
  /**
   * Metric options.
   * @default - see MetricOptions
   */
  readonly metrics?: MetricOptions;
  /**
   * How long the functions' logs are kept. Control Tower's proactive controls refuse less than a year.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the policy and ledger table when the stack is deleted.
   * @default RemovalPolicy.RETAIN - operators' policies and the retry history outlive the stack
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Timeout of the retry function, up to 5 minutes. The ledger lease (how long a claim's holder
   * owns it) is derived from it: twice the timeout, at least 2 minutes; the delay queue's
   * visibility timeout from both.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Concurrent instances of the retry function at most (reserved concurrency). Caps how hard a
   * fleet-wide failure can hit CodePipeline; the delay queue's event source gets half of it.
   * @default 10
   */
  readonly reservedConcurrency?: number;
  /**
   * CodePipeline requests per second the whole deployment may spend in each account and region
   * (an organization deployment paces every member separately, as CodePipeline's quotas are per
   * account and region). All instances together never spend more, and one busy instance may
   * spend all of it while the others are idle (they share it through one item in the table).
   * The quota is shared with consoles, CI tools and other automation: after a throttled answer
   * the deployment spends 70 % of what it did and grows back slowly. A call waits inline for its
   * turn (up to a quarter of `timeout`); work held back longer waits in the delay queue.
   * About `rate × 20` failures a minute are drained (three calls each). From 1 to 1000.
   * @default 10
   */
  readonly codePipelineRequestsPerSecond?: number;
  /**
   * Classify every failure from the provider behind its failed actions (CodeBuild, CodeDeploy,
   * CloudFormation), for the report and the metrics, and not only when its policy has a `class`
   * rule (or `retryOn: "transient"`), which always classifies. Each classified failure costs one
   * provider read per failed action (a test failure: the build and its failed test cases).
   * @default false
   */
  readonly classifyAllFailures?: boolean;
  /**
   * How often the reconciler runs: it finds every claim past its deadline (a function instance
   * that died holding it, a delay message that was lost) and moves it on. Whole minutes, 1 to 60.
   * The worst case from such a fault to the retry is the lease (or a scheduled retry's grace of
   * 5 minutes) plus this period.
   * @default Duration.minutes(5)
   */
  readonly reconcileEvery?: Duration;
  /**
   * Stack outputs of the table's name (the `autoretry` CLI finds the table through it), the
   * operator policy's ARN and the dashboard's name. Turn off when the stack already has outputs
   * of its own for them.
   * @default true
   */
  readonly outputs?: boolean;
  /**
   * The start of the physical names an organization deployment fixes: the central event bus
   * (`<prefix>`), the central function's role (`<prefix>-central`) and the member role's default
   * base name (`<prefix>-member`). Give a second deployment in the same accounts (a staging copy)
   * another prefix, on the central and the member stacks alike. 1-30 of [A-Za-z0-9-].
   * @default 'codepipeline-auto-retry'
   */
  readonly namePrefix?: string;
}
