import type { FailureClass } from '../../policy/failure-class';

/**
 * What the providers behind a failed action answer, as the classifier reads it: the few fields
 * of BatchGetBuilds, DescribeTestCases, GetDeployment and DescribeStackEvents it needs, in the
 * SDK's own names, so an adapter hands the SDK's output through and a test writes the shapes
 * from the AWS docs.
 */

/** One phase of a CodeBuild build (BatchGetBuilds `builds[].phases[]`). */
export interface BuildPhase {
  /** SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL, PRE_BUILD, BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED. */
  readonly phaseType?: string | undefined;
  /** SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED. */
  readonly phaseStatus?: string | undefined;
  readonly contexts?: readonly { readonly statusCode?: string | undefined; readonly message?: string | undefined }[] | undefined;
}

/** A CodeBuild build (BatchGetBuilds `builds[]`). */
export interface BuildAnswer {
  /** `<project>:<uuid>`: the action's externalExecutionId. */
  readonly id?: string | undefined;
  readonly projectName?: string | undefined;
  /** SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED. */
  readonly buildStatus?: string | undefined;
  readonly phases?: readonly BuildPhase[] | undefined;
  /** The test and coverage reports the build wrote. */
  readonly reportArns?: readonly string[] | undefined;
}

/** One test case of a report (DescribeTestCases `testCases[]`). */
export interface TestCaseAnswer {
  readonly reportArn?: string | undefined;
  /** The suite (CodeBuild's `prefix`, or `testSuiteName`). */
  readonly testSuiteName?: string | undefined;
  readonly prefix?: string | undefined;
  readonly name?: string | undefined;
  /** SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN. */
  readonly status?: string | undefined;
  readonly message?: string | undefined;
}

/** A CodeDeploy deployment (GetDeployment `deploymentInfo`). */
export interface DeploymentAnswer {
  readonly deploymentId?: string | undefined;
  readonly status?: string | undefined;
  readonly errorInformation?: { readonly code?: string | undefined; readonly message?: string | undefined } | undefined;
}

/** One stack event (DescribeStackEvents `StackEvents[]`). */
export interface StackEventAnswer {
  readonly Timestamp?: Date | undefined;
  readonly LogicalResourceId?: string | undefined;
  readonly ResourceType?: string | undefined;
  readonly ResourceStatus?: string | undefined;
  readonly ResourceStatusReason?: string | undefined;
  readonly HookStatus?: string | undefined;
  readonly HookStatusReason?: string | undefined;
  /** FAIL (a failed hook stops the operation) or WARN (it only warns). */
  readonly HookFailureMode?: string | undefined;
}

/** One failed test, by what makes it the same test in another run. */
export interface TestIdentity {
  /** The report group (the report ARN without its run id). */
  readonly reportGroup: string;
  readonly suite: string;
  readonly name: string;
}

/** Why an action failed, and what said so. */
export interface Classification {
  readonly class: FailureClass;
  /** One line an operator can check: "CodeBuild build web-app:1b2c… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE". */
  readonly evidence: string;
  /** For a `test` failure: the failed test cases, when they were read. */
  readonly failedTests?: readonly TestIdentity[] | undefined;
  /**
   * The provider could not be asked (throttled, a fault, refused, a member role not assumed):
   * the class is not known, which is not the same as a failure the provider could not explain.
   * A class rule cannot be told for it (filters.ts), and a retry that waited keeps the class it
   * was scheduled with (held-claims.ts).
   */
  readonly unread?: true;
}
