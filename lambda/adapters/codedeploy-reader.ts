import {
  type CodeDeployClient,
  CodeDeployServiceException,
  DeploymentDoesNotExistException,
  DeploymentIdRequiredException,
  GetDeploymentCommand,
  InvalidDeploymentIdException,
} from '@aws-sdk/client-codedeploy';
import type { DeploymentAnswer } from '../domain/provider-answers';
import { readError, type ServiceAnswer } from './provider-faults';

const isAnswer = (e: unknown): e is ServiceAnswer => e instanceof CodeDeployServiceException;

/** Reads CodeDeploy in one account and region: a deployment's status and why it failed (GetDeployment). */
export class CodeDeployReader {
  public constructor(private readonly client: CodeDeployClient) {}

  /** The deployment, or undefined when CodeDeploy has none of that id (or the id is not one). */
  public async deployment(deploymentId: string): Promise<DeploymentAnswer | undefined> {
    if (!deploymentId) return undefined;
    try {
      const info = (await this.client.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
      if (!info) return undefined;
      const error = info.errorInformation;
      return {
        deploymentId: info.deploymentId,
        status: info.status,
        errorInformation: error ? { code: error.code, message: error.message } : undefined,
      };
    } catch (error) {
      if (
        error instanceof DeploymentDoesNotExistException ||
        error instanceof InvalidDeploymentIdException ||
        error instanceof DeploymentIdRequiredException
      ) {
        return undefined;
      }
      throw readError(`CodeDeploy GetDeployment of ${deploymentId}`, error, isAnswer);
    }
  }
}
