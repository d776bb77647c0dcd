import { randomInt } from 'node:crypto';
import { JsonProviderEmulator, ProviderError } from './provider-emulator';

/**
 * A local CodeDeploy in AWS JSON 1.1 (X-Amz-Target: CodeDeploy_20141006.<Operation>) serving
 * GetDeployment: a deployment's status and, for a failed one, its errorInformation. Tests put
 * deployments in with `putDeployment`; the fault controls are ProviderEmulator's.
 */

export const DeploymentStatus = {
  Created: 'Created',
  Queued: 'Queued',
  InProgress: 'InProgress',
  Baking: 'Baking',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Stopped: 'Stopped',
  Ready: 'Ready',
} as const;
export type DeploymentStatus = (typeof DeploymentStatus)[keyof typeof DeploymentStatus];

/** A deployment, as a scenario describes it. */
export interface DeploymentSpec {
  readonly applicationName: string;
  /** @default `<applicationName>-group` */
  readonly deploymentGroupName?: string;
  /** @default Failed when errorInformation is given, else Succeeded */
  readonly status?: DeploymentStatus;
  /** The failure: code (HEALTH_CONSTRAINTS, AGENT_ISSUE, IAM_ROLE_PERMISSIONS, …) and message. */
  readonly errorInformation?: { readonly code: string; readonly message: string };
}

/** Deployment ids look like d-ABCDEF123: `d-` and nine upper-case letters or digits. */
const DEPLOYMENT_ID = /^d-[A-Z0-9]{9}$/;
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class CodeDeployEmulator extends JsonProviderEmulator {
  protected readonly targetPrefix = 'CodeDeploy_20141006';
  private readonly deployments = new Map<string, Record<string, unknown>>();

  /** Holds a deployment as `spec` describes it; returns its id. */
  public putDeployment(spec: DeploymentSpec): string {
    let deploymentId: string;
    do {
      deploymentId = `d-${Array.from({ length: 9 }, () => ID_CHARS[randomInt(ID_CHARS.length)]).join('')}`;
    } while (this.deployments.has(deploymentId));
    const status = spec.status ?? (spec.errorInformation ? DeploymentStatus.Failed : DeploymentStatus.Succeeded);
    const ended = status === DeploymentStatus.Succeeded || status === DeploymentStatus.Failed || status === DeploymentStatus.Stopped;
    const failed = status === DeploymentStatus.Failed ? 1 : 0;
    this.deployments.set(deploymentId, {
      applicationName: spec.applicationName,
      deploymentGroupName: spec.deploymentGroupName ?? `${spec.applicationName}-group`,
      deploymentConfigName: 'CodeDeployDefault.OneAtATime',
      deploymentId,
      revision: {
        revisionType: 'S3',
        s3Location: { bucket: 'codepipeline-artifacts', key: `${spec.applicationName}/BuildArtif/abc123`, bundleType: 'zip' },
      },
      status,
      ...(spec.errorInformation ? { errorInformation: spec.errorInformation } : {}),
      createTime: this.seconds(-300),
      startTime: this.seconds(-295),
      ...(ended ? { completeTime: this.seconds() } : {}),
      deploymentOverview: { Pending: 0, InProgress: ended ? 0 : 1, Succeeded: 1 - failed, Failed: failed, Skipped: 0, Ready: 0 },
      creator: 'user',
      ignoreApplicationStopFailures: false,
      updateOutdatedInstancesOnly: false,
      deploymentStyle: { deploymentType: 'IN_PLACE', deploymentOption: 'WITHOUT_TRAFFIC_CONTROL' },
      computePlatform: 'Server',
    });
    return deploymentId;
  }

  public override reset(): void {
    super.reset();
    this.deployments.clear();
  }

  protected dispatch(action: string, input: Record<string, unknown>): unknown {
    if (action !== 'GetDeployment') return this.unknown(action);
    const id = input.deploymentId;
    if (id === undefined || id === '')
      throw new ProviderError('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
    if (typeof id !== 'string' || !DEPLOYMENT_ID.test(id))
      throw new ProviderError('InvalidDeploymentIdException', `Invalid deployment ID: ${String(id)}`);
    const deployment = this.deployments.get(id);
    if (!deployment) throw new ProviderError('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`);
    return { deploymentInfo: structuredClone(deployment) };
  }
}
