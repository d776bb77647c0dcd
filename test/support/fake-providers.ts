import type { Location } from '../../contract';
import type { BuildAnswer, DeploymentAnswer, StackEventAnswer, TestCaseAnswer } from '../../lambda/domain/provider-answers';
import type { ProviderPort } from '../../lambda/ports';

/** The providers behind failed actions, as maps a test fills; every call is recorded, and `fault` is thrown instead when set. */
export class FakeProviders implements ProviderPort {
  public readonly builds = new Map<string, BuildAnswer>();
  public readonly testCases = new Map<string, TestCaseAnswer[]>();
  public readonly deployments = new Map<string, DeploymentAnswer>();
  public readonly stacks = new Map<string, StackEventAnswer[]>();
  public readonly calls: { readonly call: string; readonly id: string; readonly since?: Date }[] = [];
  /** Thrown by every call while set. */
  public fault: Error | undefined;

  public async build(_at: Location, buildId: string): Promise<BuildAnswer | undefined> {
    this.record('build', buildId);
    return this.builds.get(buildId);
  }

  public async failedTestCases(_at: Location, reportArns: readonly string[]): Promise<TestCaseAnswer[]> {
    this.record('failedTestCases', reportArns.join(','));
    return reportArns.flatMap((arn) => this.testCases.get(arn) ?? []);
  }

  public async deployment(_at: Location, deploymentId: string): Promise<DeploymentAnswer | undefined> {
    this.record('deployment', deploymentId);
    return this.deployments.get(deploymentId);
  }

  public async stackEvents(_at: Location, stackName: string, since: Date): Promise<StackEventAnswer[]> {
    this.record('stackEvents', stackName, since);
    return this.stacks.get(stackName) ?? [];
  }

  private record(call: string, id: string, since?: Date): void {
    this.calls.push({ call, id, ...(since ? { since } : {}) });
    if (this.fault) throw this.fault;
  }
}
