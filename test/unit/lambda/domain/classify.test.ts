import fc from 'fast-check';
import {
  classifyBuild,
  classifyDeployment,
  classifyJobFailure,
  classifyStackEvents,
  DEPLOYMENT_CODE_CLASSES,
  linkOf,
  MAX_EVIDENCE,
  needsTestCases,
  type ProviderLink,
  unknownClass,
} from '../../../../lambda/domain/classify';
import type { BuildAnswer, StackEventAnswer, TestCaseAnswer } from '../../../../lambda/domain/provider-answers';
import type { ActionView } from '../../../../lambda/domain/types';
import { FAILURE_CLASSES, type FailureClass } from '../../../../policy/failure-class';
import { enoughRuns, propertyParameters, propertyTestTimeout } from '../../../support/properties';

const BUILD_ID = 'web-app:1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d';
const PHASES = [
  'SUBMITTED',
  'QUEUED',
  'PROVISIONING',
  'DOWNLOAD_SOURCE',
  'INSTALL',
  'PRE_BUILD',
  'BUILD',
  'POST_BUILD',
  'UPLOAD_ARTIFACTS',
  'FINALIZING',
];

/**
 * A BatchGetBuilds `builds[]` entry as CodeBuild answers it: the phases before the failing one
 * SUCCEEDED (with the empty context CodeBuild writes), the failing one with its context, then
 * FINALIZING and COMPLETED.
 */
function build(failing: string, phaseStatus: string, statusCode: string, message: string, extra: Partial<BuildAnswer> = {}): BuildAnswer {
  const before = PHASES.slice(0, PHASES.indexOf(failing)).map((phaseType) => ({
    phaseType,
    phaseStatus: 'SUCCEEDED',
    contexts: [{ statusCode: '', message: '' }],
  }));
  const after =
    failing === 'FINALIZING' ? [] : [{ phaseType: 'FINALIZING', phaseStatus: 'SUCCEEDED', contexts: [{ statusCode: '', message: '' }] }];
  return {
    id: BUILD_ID,
    projectName: 'web-app',
    buildStatus: phaseStatus === 'TIMED_OUT' ? 'TIMED_OUT' : 'FAILED',
    phases: [...before, { phaseType: failing, phaseStatus, contexts: [{ statusCode, message }] }, ...after, { phaseType: 'COMPLETED' }],
    reportArns: [],
    ...extra,
  };
}

const REPORT = 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-unit:7f3e2d1c-0b9a-4876-a543-210fedcba987';
const testCase = (name: string, status: string, prefix = 'LoginTest'): TestCaseAnswer => ({
  reportArn: REPORT,
  prefix,
  name,
  status,
  message: 'expected 401, got 200',
});
const COMMAND_FAILED = 'Error while executing command: npm test. Reason: exit status 1';

describe('Function: classifyBuild', () => {
  it.each<[string, BuildAnswer, TestCaseAnswer[] | undefined, FailureClass]>([
    [
      'an image that could not be pulled in PROVISIONING',
      build('PROVISIONING', 'FAILED', 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', "Unable to pull customer's container image: i/o timeout"),
      undefined,
      'infrastructure',
    ],
    ['a failed SUBMITTED phase', build('SUBMITTED', 'FAILED', 'CLIENT_ERROR', 'build could not be started'), undefined, 'infrastructure'],
    ['a failed QUEUED phase', build('QUEUED', 'FAILED', '', ''), undefined, 'infrastructure'],
    [
      'a source download that failed on the network',
      build('DOWNLOAD_SOURCE', 'FAILED', 'CLIENT_ERROR', 'RequestError: send request failed caused by: dial tcp: i/o timeout'),
      undefined,
      'infrastructure',
    ],
    [
      'a source the role may not read',
      build('DOWNLOAD_SOURCE', 'FAILED', 'CLIENT_ERROR', 'Failed to get access token from arn:aws:codeconnections:…: Access denied'),
      undefined,
      'permission',
    ],
    [
      'a missing buildspec (YAML_FILE_ERROR in DOWNLOAD_SOURCE)',
      build('DOWNLOAD_SOURCE', 'FAILED', 'YAML_FILE_ERROR', 'YAML file does not exist'),
      undefined,
      'configuration',
    ],
    [
      "CodeBuild's own fault",
      { ...build('PROVISIONING', 'FAULT', 'INTERNAL_ERROR', 'Internal service error'), buildStatus: 'FAULT' },
      undefined,
      'infrastructure',
    ],
    ['a FAULT during the commands', { ...build('BUILD', 'FAULT', '', ''), buildStatus: 'FAULT' }, undefined, 'infrastructure'],
    ['a phase that FAULTed in a FAILED build', build('BUILD', 'FAULT', '', ''), undefined, 'infrastructure'],
    ['a build that timed out', build('BUILD', 'TIMED_OUT', '', 'Build has timed out.'), undefined, 'timeout'],
    ['a build that timed out in the queue', build('QUEUED', 'TIMED_OUT', '', ''), undefined, 'timeout'],
    [
      'a command throttled by another service',
      build(
        'PRE_BUILD',
        'FAILED',
        'COMMAND_EXECUTION_ERROR',
        'An error occurred (ThrottlingException) when calling GetAuthorizationToken: Rate exceeded',
      ),
      undefined,
      'throttled',
    ],
    ['a throttled phase by its status code', build('PROVISIONING', 'FAILED', 'ThrottlingException', 'try later'), undefined, 'throttled'],
    [
      'a registry pull rate limit',
      build('PROVISIONING', 'FAILED', 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', 'toomanyrequests: You have reached your pull rate limit'),
      undefined,
      'throttled',
    ],
    ['a failed command with no test reports', build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED), undefined, 'build'],
    ['a failed INSTALL phase', build('INSTALL', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED), [], 'build'],
    [
      'a failed command with failed test cases',
      build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED, { reportArns: [REPORT] }),
      [testCase('rejectsBadPassword', 'FAILED')],
      'test',
    ],
    [
      'a failed POST_BUILD phase with a test that errored',
      build('POST_BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED, { reportArns: [REPORT] }),
      [testCase('setsUpDatabase', 'ERROR')],
      'test',
    ],
    [
      'a failed command whose tests all passed or were skipped',
      build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED, { reportArns: [REPORT] }),
      [testCase('a', 'SUCCEEDED'), testCase('b', 'SKIPPED')],
      'build',
    ],
    [
      'artifacts the build did not make',
      build('UPLOAD_ARTIFACTS', 'FAILED', 'CLIENT_ERROR', 'no matching artifact paths found'),
      undefined,
      'build',
    ],
    [
      'an artifact bucket the role may not write',
      build('UPLOAD_ARTIFACTS', 'FAILED', 'CLIENT_ERROR', 'AccessDenied: Access Denied status code: 403'),
      undefined,
      'permission',
    ],
    [
      'an artifact upload that failed',
      build('UPLOAD_ARTIFACTS', 'FAILED', 'CLIENT_ERROR', 'RequestError: send request failed'),
      undefined,
      'infrastructure',
    ],
    ['a failed FINALIZING phase', build('FINALIZING', 'FAILED', '', ''), undefined, 'infrastructure'],
    ['a build that succeeded', { ...build('BUILD', 'SUCCEEDED', '', ''), buildStatus: 'SUCCEEDED' }, undefined, 'unknown'],
    ['a build still running', { id: BUILD_ID, buildStatus: 'IN_PROGRESS', phases: [] }, undefined, 'unknown'],
    ['a build someone stopped', { ...build('BUILD', 'STOPPED', '', ''), buildStatus: 'STOPPED' }, undefined, 'unknown'],
    ['a failed build with no phases', { id: BUILD_ID, buildStatus: 'FAILED' }, undefined, 'unknown'],
    ['an empty answer', {}, undefined, 'unknown'],
  ])('classifies %s', (_case, answer, cases, expected) => {
    // Act
    const result = classifyBuild(answer, cases);

    // Assess
    expect(result.class).toBe(expected);
    expect(result.evidence.length).toBeLessThanOrEqual(MAX_EVIDENCE);
  });

  it.each([
    ['a build still running (CodeBuild lagging behind CodePipeline)', { id: BUILD_ID, buildStatus: 'IN_PROGRESS', phases: [] }, true],
    ['a build that succeeded', { ...build('BUILD', 'SUCCEEDED', '', ''), buildStatus: 'SUCCEEDED' }, undefined],
    ['a build someone stopped', { ...build('BUILD', 'STOPPED', '', ''), buildStatus: 'STOPPED' }, undefined],
  ])('tells %s as read or not read', (_case, answer, unread) => {
    // Act / Assess
    expect(classifyBuild(answer).unread).toBe(unread);
  });

  it('says where and why in one line, with the build id shortened', () => {
    // Act
    const result = classifyBuild(build('PROVISIONING', 'FAILED', 'BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE', 'Unable to pull\ncustomer image'));

    // Assess
    expect(result.evidence).toBe(
      'CodeBuild build web-app:1b2c3d4e… failed in PROVISIONING: BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE: Unable to pull customer image',
    );
  });

  it('names the failed tests and keeps them, each once', () => {
    // Prepare
    const answer = build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED, { reportArns: [REPORT] });
    const cases = [testCase('rejectsBadPassword', 'FAILED'), testCase('rejectsBadPassword', 'FAILED'), testCase('locksOut', 'FAILED')];

    // Act
    const result = classifyBuild(answer, cases);

    // Assess
    expect(result.evidence).toMatch(
      /failed in BUILD: COMMAND_EXECUTION_ERROR: .*; 2 failed tests: LoginTest\.locksOut, LoginTest\.rejectsBadPassword$/,
    );
    expect(result.failedTests).toEqual([
      { reportGroup: 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-unit', suite: 'LoginTest', name: 'locksOut' },
      { reportGroup: 'arn:aws:codebuild:us-east-1:123456789012:report/web-app-unit', suite: 'LoginTest', name: 'rejectsBadPassword' },
    ]);
  });

  it('keeps the evidence within its length however long the message', () => {
    // Act
    const result = classifyBuild(build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', 'x'.repeat(10_000)));

    // Assess
    expect(result.evidence.length).toBeLessThanOrEqual(MAX_EVIDENCE);
    expect(result.evidence).toMatch(/^CodeBuild build web-app:1b2c3d4e… failed in BUILD: COMMAND_EXECUTION_ERROR: x+…$/);
  });
});

describe('Function: needsTestCases', () => {
  it.each<[string, BuildAnswer, boolean]>([
    ['a failed command with reports', build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED, { reportArns: [REPORT] }), true],
    ['a failed command without reports', build('BUILD', 'FAILED', 'COMMAND_EXECUTION_ERROR', COMMAND_FAILED), false],
    ['a provisioning failure with reports', build('PROVISIONING', 'FAILED', 'X', 'y', { reportArns: [REPORT] }), false],
    ['a throttled command with reports', build('BUILD', 'FAILED', 'X', 'Rate exceeded', { reportArns: [REPORT] }), false],
    ['a timeout with reports', build('BUILD', 'TIMED_OUT', '', '', { reportArns: [REPORT] }), false],
  ])('says whether test cases could tell more for %s', (_case, answer, expected) => {
    // Act / Assess
    expect(needsTestCases(answer)).toBe(expected);
  });
});

/** Every code of CodeDeploy's ErrorCode enum, with the class it gives. */
const DEPLOYMENT_CODES: [string, FailureClass][] = [
  ['THROTTLED', 'throttled'],
  ['TIMEOUT', 'timeout'],
  ['INTERNAL_ERROR', 'infrastructure'],
  ['AGENT_ISSUE', 'infrastructure'],
  ['HEALTH_CONSTRAINTS', 'deployment-health'],
  ['ALARM_ACTIVE', 'deployment-health'],
  ['CUSTOMER_APPLICATION_UNHEALTHY', 'deployment-health'],
  ['HOOK_EXECUTION_FAILURE', 'deployment-health'],
  ['IAM_ROLE_MISSING', 'permission'],
  ['IAM_ROLE_PERMISSIONS', 'permission'],
  ['AUTO_SCALING_IAM_ROLE_PERMISSIONS', 'permission'],
  ['APPLICATION_MISSING', 'configuration'],
  ['DEPLOYMENT_GROUP_MISSING', 'configuration'],
  ['REVISION_MISSING', 'configuration'],
  ['HEALTH_CONSTRAINTS_INVALID', 'configuration'],
  ['NO_INSTANCES', 'configuration'],
  ['OVER_MAX_INSTANCES', 'configuration'],
  ['NO_EC2_SUBSCRIPTION', 'configuration'],
  ['INVALID_REVISION', 'configuration'],
  ['INVALID_ECS_SERVICE', 'configuration'],
  ['INVALID_LAMBDA_CONFIGURATION', 'configuration'],
  ['INVALID_LAMBDA_FUNCTION', 'configuration'],
  ['MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION', 'configuration'],
  ['MISSING_ELB_INFORMATION', 'configuration'],
  ['MISSING_GITHUB_TOKEN', 'configuration'],
  ['ELASTIC_LOAD_BALANCING_INVALID', 'configuration'],
  ['ELB_INVALID_INSTANCE', 'configuration'],
  ['AUTO_SCALING_CONFIGURATION', 'configuration'],
  ['AUTOSCALING_VALIDATION_ERROR', 'configuration'],
  ['CODEDEPLOY_RESOURCE_CANNOT_BE_FOUND', 'configuration'],
  ['RESOURCE_LIMIT_EXCEEDED', 'configuration'],
  ['MANUAL_STOP', 'unknown'],
  ['ECS_UPDATE_ERROR', 'unknown'],
  ['CLOUDFORMATION_STACK_FAILURE', 'unknown'],
  ['A_CODE_FROM_THE_FUTURE', 'unknown'],
];

describe('Function: classifyDeployment', () => {
  it.each(DEPLOYMENT_CODES)('classifies error code %s as %s', (code, expected) => {
    // Act
    const result = classifyDeployment({
      deploymentId: 'd-ABC123',
      status: 'Failed',
      errorInformation: { code, message: 'The deployment failed.' },
    });

    // Assess
    expect(result).toEqual({ class: expected, evidence: `CodeDeploy deployment d-ABC123 failed: ${code}: The deployment failed.` });
  });

  it('has a row in this table for every code it maps', () => {
    // Assess
    expect([...DEPLOYMENT_CODE_CLASSES.keys()].sort()).toEqual(
      DEPLOYMENT_CODES.map(([code]) => code)
        .filter((c) => c !== 'A_CODE_FROM_THE_FUTURE')
        .sort(),
    );
  });

  it.each([
    [
      'no error information',
      { deploymentId: 'd-ABC123', status: 'Stopped' },
      'CodeDeploy deployment d-ABC123 is Stopped with no error code',
    ],
    ['an empty answer', {}, 'CodeDeploy deployment (no id) failed with no error code'],
    [
      'a code that is not a string',
      { deploymentId: 'd-1', errorInformation: { code: 7 } },
      'CodeDeploy deployment d-1 failed with no error code',
    ],
    [
      'a code named like a property of every object',
      { deploymentId: 'd-1', errorInformation: { code: 'constructor' } },
      'CodeDeploy deployment d-1 failed: constructor',
    ],
  ])('says unknown for %s', (_case, answer, evidence) => {
    // Act
    const result = classifyDeployment(answer as never);

    // Assess
    expect(result).toEqual({ class: 'unknown', evidence });
  });
  it.each([
    ['InProgress', true],
    ['Baking', true],
    ['Stopped', undefined],
  ])('takes a deployment with no error code that is %s as read (or not, while it has not ended)', (status, unread) => {
    // Act
    const result = classifyDeployment({ deploymentId: 'd-ABC123', status });

    // Assess
    expect(result.class).toBe('unknown');
    expect(result.unread).toBe(unread);
  });
});

const at = (seconds: number) => new Date(Date.UTC(2026, 2, 1, 10, 0, seconds));
/** A DescribeStackEvents `StackEvents[]` entry. */
const event = (
  LogicalResourceId: string,
  ResourceType: string,
  ResourceStatus: string,
  ResourceStatusReason?: string,
  more: Partial<StackEventAnswer> = {},
): StackEventAnswer => ({ LogicalResourceId, ResourceType, ResourceStatus, ResourceStatusReason, ...more });
const STACK = (status: string, reason?: string) => event('my-stack', 'AWS::CloudFormation::Stack', status, reason);
const BUCKET = 'AWS::S3::Bucket';

/** A failed deployment as the API answers it, newest event first: the failure, then the rollback. */
const failedWith = (failure: StackEventAnswer): StackEventAnswer[] => [
  STACK('UPDATE_ROLLBACK_IN_PROGRESS', 'The following resource(s) failed to update: [MyBucket].'),
  event('MyQueue', 'AWS::SQS::Queue', 'UPDATE_FAILED', 'Resource update cancelled'),
  failure,
  event('MyBucket', BUCKET, 'UPDATE_IN_PROGRESS'),
  STACK('UPDATE_IN_PROGRESS', 'User Initiated'),
];

describe('Function: classifyStackEvents', () => {
  it.each<[string, StackEventAnswer[], FailureClass]>([
    [
      'a throttled resource handler',
      failedWith(
        event(
          'MyBucket',
          BUCKET,
          'UPDATE_FAILED',
          'Resource handler returned message: "Rate exceeded (Service: S3, Status Code: 400, Request ID: 5d1f)" (RequestToken: 0b9c, HandlerErrorCode: Throttling)',
        ),
      ),
      'throttled',
    ],
    ['a ThrottlingException', failedWith(event('MyBucket', BUCKET, 'UPDATE_FAILED', 'ThrottlingException: Throttling')), 'throttled'],
    ['an internal failure', failedWith(event('MyBucket', BUCKET, 'UPDATE_FAILED', 'Internal Failure')), 'infrastructure'],
    [
      'a service unavailable',
      failedWith(event('MyBucket', BUCKET, 'UPDATE_FAILED', 'ServiceUnavailable: Service Unavailable')),
      'infrastructure',
    ],
    [
      'a role that may not act',
      failedWith(
        event(
          'MyBucket',
          BUCKET,
          'UPDATE_FAILED',
          'Resource handler returned message: "User: arn:aws:sts::123456789012:assumed-role/cfn/s is not authorized to perform: s3:PutBucketPolicy (Service: S3, Status Code: 403)" (HandlerErrorCode: AccessDenied)',
        ),
      ),
      'permission',
    ],
    [
      'a property validation failure',
      failedWith(
        event(
          'MyBucket',
          BUCKET,
          'UPDATE_FAILED',
          'Properties validation failed for resource MyBucket with message: #/BucketName: failed validation constraint',
        ),
      ),
      'configuration',
    ],
    [
      'a template format error',
      [STACK('UPDATE_FAILED', 'Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template')],
      'configuration',
    ],
    ['a validation error', [STACK('UPDATE_FAILED', 'ValidationError: Parameter Env must be one of AllowedValues')], 'configuration'],
    ['a name already taken', failedWith(event('MyBucket', BUCKET, 'CREATE_FAILED', 'my-bucket already exists')), 'configuration'],
    [
      'a hook that judged the template non-compliant',
      failedWith(
        event('MyBucket', BUCKET, 'UPDATE_IN_PROGRESS', undefined, {
          HookStatus: 'HOOK_COMPLETE_FAILED',
          HookStatusReason: 'Hook failed with message: S3 buckets must be encrypted',
          HookFailureMode: 'FAIL',
        }),
      ),
      'configuration',
    ],
    [
      'a hook that could not run',
      failedWith(
        event('MyBucket', BUCKET, 'UPDATE_IN_PROGRESS', undefined, { HookStatus: 'HOOK_FAILED', HookStatusReason: 'Hook timed out' }),
      ),
      'timeout',
    ],
    [
      'a hook that could not run, for no reason given',
      failedWith(
        event('MyBucket', BUCKET, 'UPDATE_IN_PROGRESS', undefined, { HookStatus: 'HOOK_FAILED', HookStatusReason: 'Hook errored' }),
      ),
      'unknown',
    ],
    ['a reason it does not know', failedWith(event('MyBucket', BUCKET, 'UPDATE_FAILED', 'Resource did not stabilize')), 'unknown'],
    ['only cancelled resources', [event('MyQueue', 'AWS::SQS::Queue', 'UPDATE_FAILED', 'Resource update cancelled')], 'unknown'],
    ['no failed event', [STACK('UPDATE_COMPLETE'), STACK('UPDATE_IN_PROGRESS', 'User Initiated')], 'unknown'],
    ['no events', [], 'unknown'],
  ])('classifies %s', (_case, events, expected) => {
    // Act
    const result = classifyStackEvents('my-stack', events);

    // Assess
    expect(result.class).toBe(expected);
  });

  it('names the root cause: the resource, its type, its status and the reason', () => {
    // Act
    const result = classifyStackEvents('my-stack', failedWith(event('MyBucket', BUCKET, 'CREATE_FAILED', 'my-bucket already exists')));

    // Assess
    expect(result).toEqual({
      class: 'configuration',
      evidence: 'CloudFormation stack my-stack: MyBucket (AWS::S3::Bucket) CREATE_FAILED: my-bucket already exists',
    });
  });

  it('passes over a hook that only warns, to the failure that stopped the stack', () => {
    // Prepare
    const events = [
      event('MyTable', 'AWS::DynamoDB::Table', 'CREATE_FAILED', 'Internal Failure'),
      event('MyBucket', BUCKET, 'CREATE_IN_PROGRESS', undefined, { HookStatus: 'HOOK_COMPLETE_FAILED', HookFailureMode: 'WARN' }),
    ];

    // Act / Assess
    expect(classifyStackEvents('my-stack', events).class).toBe('infrastructure');
  });

  it.each([
    ['by their times, whatever the order of the answer', [at(1), at(2)], 'first: Rate exceeded'],
    ['by the order of the answer (newest first) when a time is missing', [undefined, at(2)], 'second: my-bucket already exists'],
  ])('finds the earliest failure %s', (_case, [first, second], reason) => {
    // Prepare
    const events = [
      event('first', BUCKET, 'CREATE_FAILED', 'Rate exceeded', { Timestamp: first }),
      event('second', BUCKET, 'CREATE_FAILED', 'my-bucket already exists', { Timestamp: second }),
    ];

    // Act
    const result = classifyStackEvents('my-stack', events);

    // Assess
    expect(result.evidence).toContain(reason.replace(': ', ` (${BUCKET}) CREATE_FAILED: `));
  });
});

const action = (provider: string | undefined, more: Partial<ActionView> = {}): ActionView => ({
  name: 'Invalidate',
  category: 'Invoke',
  provider,
  status: 'Failed',
  executionId: 'a-1',
  errorCode: 'JobFailed',
  errorMessage: undefined,
  summary: undefined,
  actionMode: undefined,
  ...more,
});

describe('Function: classifyJobFailure', () => {
  it.each<[string | undefined, string | undefined, FailureClass]>([
    ['SystemUnavailable', 'downstream API is down', 'infrastructure'],
    ['ConfigurationError', 'missing UserParameters', 'configuration'],
    ['RevisionOutOfSync', 'revision moved on', 'configuration'],
    ['RevisionUnavailable', 'revision was deleted', 'configuration'],
    ['PermissionError', 'cannot assume role', 'permission'],
    ['JobFailed', 'Task timed out after 3.00 seconds', 'timeout'],
    ['JobFailed', 'TooManyRequestsException: Rate exceeded', 'throttled'],
    ['JobFailed', 'AccessDeniedException: User is not authorized to perform: cloudfront:CreateInvalidation', 'permission'],
    ['JobFailed', 'assertion failed: smoke test returned 500 body', 'unknown'],
    ['JobFailed', undefined, 'unknown'],
    [undefined, undefined, 'unknown'],
  ])('classifies %s with message %j', (errorCode, errorMessage, expected) => {
    // Act
    const result = classifyJobFailure(action('Lambda', { errorCode, errorMessage }));

    // Assess
    expect(result.class).toBe(expected);
  });

  it('says which action failed and what CodePipeline reported', () => {
    // Act
    const result = classifyJobFailure(action('Lambda', { errorMessage: 'Task timed out after 3.00 seconds' }));

    // Assess
    expect(result).toEqual({ class: 'timeout', evidence: 'Lambda action Invalidate failed: JobFailed: Task timed out after 3.00 seconds' });
  });

  it('reads the summary when the error message says nothing', () => {
    // Act
    const result = classifyJobFailure(action('MyCustomProvider', { summary: 'upstream throttling, try later' }));

    // Assess
    expect(result.class).toBe('throttled');
  });
});

describe('Function: linkOf', () => {
  it.each<[string, ActionView, ProviderLink]>([
    ['a build', action('CodeBuild', { externalExecutionId: BUILD_ID }), { kind: 'codebuild', buildId: BUILD_ID }],
    ['a deployment', action('CodeDeploy', { externalExecutionId: 'd-ABC123' }), { kind: 'codedeploy', deploymentId: 'd-ABC123' }],
    [
      'an ECS blue/green deployment',
      action('CodeDeployToECS', { externalExecutionId: 'd-XYZ' }),
      { kind: 'codedeploy', deploymentId: 'd-XYZ' },
    ],
    [
      'a stack',
      action('CloudFormation', { configuration: { ActionMode: 'CREATE_UPDATE', StackName: 'my-stack' } }),
      { kind: 'cloudformation', stackName: 'my-stack' },
    ],
    ['a Lambda invoke', action('Lambda', { configuration: { FunctionName: 'invalidate' } }), { kind: 'job' }],
    ['a custom action', action('MyCompanyScanner'), { kind: 'job' }],
  ])('links %s to the provider object that explains it', (_case, failed, expected) => {
    // Act / Assess
    expect(linkOf(failed)).toEqual(expected);
  });

  it.each<[string, ActionView, string]>([
    ['a build that never started', action('CodeBuild'), 'the CodeBuild action has no build id'],
    ['a deployment without an id', action('CodeDeploy'), 'the CodeDeploy action has no deployment id'],
    ['a stack action without a stack name', action('CloudFormation', { configuration: {} }), 'the CloudFormation action has no StackName'],
    ['a stack set', action('CloudFormationStackSet', { configuration: { StackSetName: 's' } }), 'a stack set fails per stack instance'],
    [
      'a batch build (its id is the batch, which BatchGetBuilds does not know)',
      action('CodeBuild', { externalExecutionId: 'web-app:batch-1', configuration: { ProjectName: 'web-app', BatchEnabled: 'true' } }),
      'a batch build fails per build of the batch',
    ],
    ['an AWS action with no provider detail', action('ECS'), 'no provider answer explains a failed ECS action'],
    ['an action with no provider', action(undefined), 'the action names no provider'],
  ])('says why nothing explains %s', (_case, failed, why) => {
    // Act
    const link = linkOf(failed);

    // Assess
    expect(link.kind).toBe('none');
    expect(link.kind === 'none' && link.why).toContain(why);
  });
});

describe('Function: unknownClass', () => {
  it('makes the evidence one bounded line', () => {
    // Act
    const result = unknownClass(`the provider\nsaid ${'x'.repeat(500)}`);

    // Assess
    expect(result.class).toBe('unknown');
    expect(result.evidence).toMatch(/^the provider said x+…$/);
    expect(result.evidence).toHaveLength(MAX_EVIDENCE);
  });
});

describe('Property: the classifiers never throw', () => {
  const value = fc.oneof(fc.anything(), fc.string(), fc.constantFrom('FAILED', 'FAULT', 'TIMED_OUT', 'BUILD', 'PROVISIONING'));
  const shaped = fc.oneof(
    fc.anything(),
    fc.record(
      {
        id: value,
        buildStatus: value,
        phases: fc.oneof(value, fc.array(fc.record({ phaseType: value, phaseStatus: value, contexts: fc.oneof(value, fc.array(value)) }))),
        reportArns: fc.oneof(value, fc.array(value)),
        deploymentId: value,
        errorInformation: fc.oneof(value, fc.record({ code: value, message: value })),
        name: value,
        provider: value,
        errorCode: value,
        errorMessage: value,
        externalExecutionId: value,
        configuration: fc.oneof(value, fc.record({ StackName: value })),
      },
      { requiredKeys: [] },
    ),
  );
  const isClassification = (c: { class: string; evidence: unknown }) =>
    (FAILURE_CLASSES as readonly string[]).includes(c.class) && typeof c.evidence === 'string' && c.evidence.length <= MAX_EVIDENCE;

  it(
    'answers a class and bounded evidence for any answer, however odd its shape',
    () => {
      // Prepare
      let runs = 0;

      // Act / Assess
      fc.assert(
        fc.property(shaped, fc.oneof(fc.anything(), fc.array(shaped)), (answer, more) => {
          runs += 1;
          const cases = more as TestCaseAnswer[];
          expect(isClassification(classifyBuild(answer as BuildAnswer, cases))).toBe(true);
          expect(isClassification(classifyBuild(answer as BuildAnswer))).toBe(true);
          expect(typeof needsTestCases(answer as BuildAnswer)).toBe('boolean');
          expect(isClassification(classifyDeployment(answer as never))).toBe(true);
          expect(isClassification(classifyStackEvents(answer as string, more as StackEventAnswer[]))).toBe(true);
          expect(isClassification(classifyJobFailure(answer as ActionView))).toBe(true);
          expect(typeof linkOf(answer as ActionView).kind).toBe('string');
        }),
        propertyParameters({ numRuns: 300, seed: 23 }),
      );
      expect(runs).toBeGreaterThanOrEqual(enoughRuns(300));
    },
    propertyTestTimeout(),
  );
});
