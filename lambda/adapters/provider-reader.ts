import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CodeBuildClient, type CodeBuildClientConfig } from '@aws-sdk/client-codebuild';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { Location } from '../../contract';
import type { BuildAnswer, DeploymentAnswer, StackEventAnswer, TestCaseAnswer } from '../domain/provider-answers';
import type { ProviderPort } from '../ports';
import { CodeBuildReader } from './codebuild-reader';
import { CodeDeployReader } from './codedeploy-reader';
import { StackEventsReader } from './stack-events-reader';

/**
 * The providers of one account and region, read through their own SDK clients. A module of its
 * own, loaded on the first classification (lambda/dependencies.ts): a function whose policies
 * have no class rules never loads the CodeBuild, CodeDeploy or CloudFormation client (the
 * bundle keeps them in a chunk of their own). ProviderRouter hands it only the calls of its
 * location, so `at` is not read again here.
 */
export class ProviderReader implements ProviderPort {
  public constructor(
    private readonly builds: CodeBuildReader,
    private readonly deployments: CodeDeployReader,
    private readonly stacks: StackEventsReader,
  ) {}

  public build(_at: Location, buildId: string): Promise<BuildAnswer | undefined> {
    return this.builds.build(buildId);
  }

  public failedTestCases(_at: Location, reportArns: readonly string[]): Promise<TestCaseAnswer[]> {
    return this.builds.failedTestCases(reportArns);
  }

  public deployment(_at: Location, deploymentId: string): Promise<DeploymentAnswer | undefined> {
    return this.deployments.deployment(deploymentId);
  }

  public stackEvents(_at: Location, stackName: string, since: Date): Promise<StackEventAnswer[]> {
    return this.stacks.stackEvents(stackName, since);
  }
}

/** What the three clients share: credentials, region, attempts, timeouts (see clientConfig). */
export type ProviderClientConfig = Pick<CodeBuildClientConfig, 'credentials' | 'region' | 'maxAttempts' | 'requestHandler'>;

/** Endpoints in place of the SDK's own (AWS_ENDPOINT_URL_<SERVICE>, else the regional one), per provider. */
export interface ProviderEndpoints {
  readonly codebuild?: string | undefined;
  readonly codedeploy?: string | undefined;
  readonly cloudformation?: string | undefined;
}

/** The reader of one account and region, its three clients made from `config`. */
export function providerReader(config: ProviderClientConfig, endpoints: ProviderEndpoints = {}): ProviderReader {
  const at = (endpoint: string | undefined) => ({ ...config, ...(endpoint ? { endpoint } : {}) });
  return new ProviderReader(
    new CodeBuildReader(new CodeBuildClient(at(endpoints.codebuild))),
    new CodeDeployReader(new CodeDeployClient(at(endpoints.codedeploy))),
    new StackEventsReader(new CloudFormationClient(at(endpoints.cloudformation))),
  );
}
