/**
 * Why a stage failed, in one vocabulary for every provider: the `class` field of a rule in
 * retryOn / neverRetryOn matches these words. The classifier (lambda/domain/classify.ts) derives
 * one from the provider's own answer (CodeBuild, CodeDeploy, CloudFormation, a job's failure type).
 */
export const FailureClass = {
  /** The provider's own machinery failed: a build fleet that could not provision, an agent, an internal error. */
  Infrastructure: 'infrastructure',
  Timeout: 'timeout',
  Throttled: 'throttled',
  /** Tests ran and some failed (CodeBuild test reports with failed cases). */
  Test: 'test',
  /** The build itself failed, with no failed test cases to show for it. */
  Build: 'build',
  /** A deployment stopped by its health constraints or alarms. */
  DeploymentHealth: 'deployment-health',
  Configuration: 'configuration',
  Permission: 'permission',
  /** No provider answer told more, or the provider could not be asked. */
  Unknown: 'unknown',
} as const;
export type FailureClass = (typeof FailureClass)[keyof typeof FailureClass];

export const FAILURE_CLASSES: readonly FailureClass[] = Object.values(FailureClass);

/** The preset `retryOn: "transient"`: failures a retry can cure. */
export const TRANSIENT_CLASSES: readonly FailureClass[] = [FailureClass.Infrastructure, FailureClass.Timeout, FailureClass.Throttled];

/** The name of the preset, as cdk.json, props and the CLI spell it. */
export const TRANSIENT_PRESET = 'transient';

export function isFailureClass(value: unknown): value is FailureClass {
  return typeof value === 'string' && (FAILURE_CLASSES as readonly string[]).includes(value);
}
