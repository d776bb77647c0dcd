import { FailureClass } from '../../policy/failure-class';
import { classified, classOfWords, fields, said, text, unknownClass, unreadClass } from './answer-reading';
import type { Classification, DeploymentAnswer } from './provider-answers';
import type { ActionView } from './types';

/**
 * The failure classifier: why a failed action failed, in one vocabulary (policy/failure-class.ts),
 * as a pure function of its provider's answer. Which provider object to ask is linkOf's; asking
 * is an adapter's. Every classifier answers for any input, `unknown` when the answer tells
 * nothing, and never throws: a failure must not be lost to its explanation.
 */
export { MAX_EVIDENCE, unknownClass, unreadClass } from './answer-reading';
export { classifyBuild, needsTestCases, shortBuildId } from './classify-build';
export { classifyStackEvents } from './classify-stack';
export { NAMED_TESTS, namedTests, reportGroupOf, sameTests, testIdentities } from './test-identities';

/**
 * CodeDeploy's error codes (`errorInformation.code`, the ErrorCode enum of the API) and their
 * classes. A code not listed is `unknown`.
 */
export const DEPLOYMENT_CODE_CLASSES: ReadonlyMap<string, FailureClass> = new Map([
  ['THROTTLED', FailureClass.Throttled],
  ['TIMEOUT', FailureClass.Timeout],
  ['INTERNAL_ERROR', FailureClass.Infrastructure],
  ['AGENT_ISSUE', FailureClass.Infrastructure],
  ['HEALTH_CONSTRAINTS', FailureClass.DeploymentHealth],
  ['ALARM_ACTIVE', FailureClass.DeploymentHealth],
  ['CUSTOMER_APPLICATION_UNHEALTHY', FailureClass.DeploymentHealth],
  ['HOOK_EXECUTION_FAILURE', FailureClass.DeploymentHealth],
  ['IAM_ROLE_MISSING', FailureClass.Permission],
  ['IAM_ROLE_PERMISSIONS', FailureClass.Permission],
  ['AUTO_SCALING_IAM_ROLE_PERMISSIONS', FailureClass.Permission],
  ['APPLICATION_MISSING', FailureClass.Configuration],
  ['DEPLOYMENT_GROUP_MISSING', FailureClass.Configuration],
  ['REVISION_MISSING', FailureClass.Configuration],
  ['HEALTH_CONSTRAINTS_INVALID', FailureClass.Configuration],
  ['NO_INSTANCES', FailureClass.Configuration],
  ['OVER_MAX_INSTANCES', FailureClass.Configuration],
  ['NO_EC2_SUBSCRIPTION', FailureClass.Configuration],
  ['INVALID_REVISION', FailureClass.Configuration],
  ['INVALID_ECS_SERVICE', FailureClass.Configuration],
  ['INVALID_LAMBDA_CONFIGURATION', FailureClass.Configuration],
  ['INVALID_LAMBDA_FUNCTION', FailureClass.Configuration],
  ['MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION', FailureClass.Configuration],
  ['MISSING_ELB_INFORMATION', FailureClass.Configuration],
  ['MISSING_GITHUB_TOKEN', FailureClass.Configuration],
  ['ELASTIC_LOAD_BALANCING_INVALID', FailureClass.Configuration],
  ['ELB_INVALID_INSTANCE', FailureClass.Configuration],
  ['AUTO_SCALING_CONFIGURATION', FailureClass.Configuration],
  ['AUTOSCALING_VALIDATION_ERROR', FailureClass.Configuration],
  ['CODEDEPLOY_RESOURCE_CANNOT_BE_FOUND', FailureClass.Configuration],
  ['RESOURCE_LIMIT_EXCEEDED', FailureClass.Configuration],
  // Say nothing a policy could act on: someone stopped it, ECS or a CloudFormation stack failed it.
  ['MANUAL_STOP', FailureClass.Unknown],
  ['ECS_UPDATE_ERROR', FailureClass.Unknown],
  ['CLOUDFORMATION_STACK_FAILURE', FailureClass.Unknown],
]);

/** GetDeployment's statuses of a deployment that has not ended. */
const DEPLOYMENT_RUNNING: ReadonlySet<string> = new Set(['Created', 'Queued', 'InProgress', 'Baking', 'Ready']);

/** Why a CodeDeploy deployment failed, from GetDeployment's `deploymentInfo`; never throws. */
export function classifyDeployment(deployment: DeploymentAnswer): Classification {
  const d = fields(deployment);
  const name = `CodeDeploy deployment ${text(d.deploymentId) ?? '(no id)'}`;
  const error = fields(d.errorInformation);
  const code = text(error.code);
  const message = text(error.message);
  if (code === undefined) {
    const status = text(d.status);
    // A deployment that has not ended (CodeDeploy lagging behind CodePipeline) has no class yet.
    if (status !== undefined && DEPLOYMENT_RUNNING.has(status)) return unreadClass(`${name} has not ended: it is ${status}`);
    return unknownClass(`${name} ${status ? `is ${status}` : 'failed'} with no error code${message ? `: ${message}` : ''}`);
  }
  return classified(DEPLOYMENT_CODE_CLASSES.get(code) ?? FailureClass.Unknown, `${name} failed: ${said(code, message)}`);
}

/**
 * The failure types a job worker reports (PutJobFailureResult `failureDetails.type`, which
 * CodePipeline shows as the action's error code) and their classes. JobFailed says only that it
 * failed: the message decides.
 */
export const JOB_FAILURE_CLASSES: ReadonlyMap<string, FailureClass> = new Map([
  ['SystemUnavailable', FailureClass.Infrastructure],
  ['ConfigurationError', FailureClass.Configuration],
  ['RevisionOutOfSync', FailureClass.Configuration],
  ['RevisionUnavailable', FailureClass.Configuration],
  ['PermissionError', FailureClass.Permission],
]);

/**
 * Why a Lambda invoke or custom action failed, from what CodePipeline reports of it: its error
 * code (the job's failure type) when that says more than JobFailed, else the words of its
 * message and summary (throttling, then a timeout, then a refusal), else `unknown`.
 */
export function classifyJobFailure(action: ActionView): Classification {
  const a = fields(action);
  const code = text(a.errorCode);
  const message = text(a.errorMessage) ?? text(a.summary);
  const evidence = `${text(a.provider) ?? 'The'} action ${text(a.name) ?? '(no name)'} failed: ${said(code, message) || 'no error details'}`;
  const byCode = code === undefined ? undefined : JOB_FAILURE_CLASSES.get(code);
  if (byCode !== undefined) return classified(byCode, evidence);
  const words = [text(a.errorMessage), text(a.summary)].filter((t) => t !== undefined).join(' ');
  return classified(classOfWords(words) ?? FailureClass.Unknown, evidence);
}

/** Which provider object explains a failed action, or why none does. */
export type ProviderLink =
  | { readonly kind: 'codebuild'; readonly buildId: string }
  | { readonly kind: 'codedeploy'; readonly deploymentId: string }
  | { readonly kind: 'cloudformation'; readonly stackName: string }
  /** A Lambda invoke or custom action: its job's failure type is in the action's own error details. */
  | { readonly kind: 'job' }
  | { readonly kind: 'none'; readonly why: string };

/**
 * AWS's own action providers other than Lambda: CodePipeline runs them itself, so they have no
 * job failure type, and no provider answer here explains them.
 */
const AWS_PROVIDERS: readonly string[] = [
  'S3',
  'ECR',
  'CodeCommit',
  'CodeStarSourceConnection',
  'ECS',
  'EKS',
  'EC2',
  'ElasticBeanstalk',
  'Manual',
  'StepFunctions',
  'AppConfig',
  'ServiceCatalog',
  'AlexaSkillsKit',
  'DeviceFarm',
  'InspectorScan',
  'Commands',
  'OpsWorks',
];

/**
 * The provider object behind a failed action: the build (`externalExecutionId`, `project:uuid`),
 * the deployment (`externalExecutionId`, `d-…`), the stack (`configuration.StackName`), or the
 * job of a Lambda or custom action (its owner is not in the view: any provider that is not one
 * of AWS's is taken for a job worker). CloudFormation stack sets report per stack instance,
 * and CodeBuild batch builds (`BatchEnabled`) per build of the batch, which no answer here reads.
 */
export function linkOf(action: ActionView): ProviderLink {
  const a = fields(action);
  const provider = text(a.provider);
  const external = text(a.externalExecutionId);
  const missing = (what: string): ProviderLink => ({ kind: 'none', why: `the ${provider} action has no ${what}` });
  switch (provider) {
    case undefined:
      return { kind: 'none', why: 'the action names no provider' };
    case 'CodeBuild':
      // A batch build's id is the batch's (BatchGetBuildBatches), which BatchGetBuilds does not know.
      if (text(fields(a.configuration).BatchEnabled)?.toLowerCase() === 'true') {
        return { kind: 'none', why: 'a batch build fails per build of the batch; its builds are not read' };
      }
      return external ? { kind: 'codebuild', buildId: external } : missing('build id (externalExecutionId): the build never started');
    case 'CodeDeploy':
    case 'CodeDeployToECS':
      return external ? { kind: 'codedeploy', deploymentId: external } : missing('deployment id (externalExecutionId)');
    case 'CloudFormation': {
      const stackName = text(fields(a.configuration).StackName);
      return stackName ? { kind: 'cloudformation', stackName } : missing('StackName in its configuration');
    }
    case 'CloudFormationStackSet':
      return { kind: 'none', why: 'a stack set fails per stack instance; its operations are not read' };
    case 'Lambda':
      return { kind: 'job' };
    default:
      return AWS_PROVIDERS.includes(provider)
        ? { kind: 'none', why: `no provider answer explains a failed ${provider} action` }
        : { kind: 'job' };
  }
}
