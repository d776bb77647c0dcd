import type { Location } from '../../contract';
import { AutoRetryError } from '../../policy/errors';
import { TransientFaultError } from '../domain/errors';
import type { BuildAnswer, DeploymentAnswer, StackEventAnswer, TestCaseAnswer } from '../domain/provider-answers';
import type { ProviderPort } from '../ports';
import type { TableNames } from './table-names';

/**
 * Sends each provider read to the pipeline's own account and region: the central account's
 * through the function's own credentials, a member's through its role. One reader (three SDK
 * clients) per account and region, made on its first call, the module that holds the clients
 * loaded then, so a function that classifies nothing never loads them.
 */
export class ProviderRouter implements ProviderPort {
  private readonly readers = new Map<string, Promise<ProviderPort>>();

  public constructor(
    /** Tells the deployment's own account and region from a member's. */
    private readonly names: TableNames,
    /** Makes the reader of an account and region (loading the clients' module on first use). */
    private readonly connect: (at: Location) => Promise<ProviderPort>,
  ) {}

  public async build(at: Location, buildId: string): Promise<BuildAnswer | undefined> {
    return (await this.reader(at)).build(at, buildId);
  }

  public async failedTestCases(at: Location, reportArns: readonly string[]): Promise<TestCaseAnswer[]> {
    return (await this.reader(at)).failedTestCases(at, reportArns);
  }

  public async deployment(at: Location, deploymentId: string): Promise<DeploymentAnswer | undefined> {
    return (await this.reader(at)).deployment(at, deploymentId);
  }

  public async stackEvents(at: Location, stackName: string, since: Date): Promise<StackEventAnswer[]> {
    return (await this.reader(at)).stackEvents(at, stackName, since);
  }

  private reader(at: Location): Promise<ProviderPort> {
    const key = this.names.isHome(at) ? 'home' : `${at.account}/${at.region}`;
    let reader = this.readers.get(key);
    if (!reader) {
      const made = this.connect(at).catch((error: unknown) => {
        // Not remembered: the next call tries again.
        if (this.readers.get(key) === made) this.readers.delete(key);
        if (error instanceof AutoRetryError) throw error;
        throw new TransientFaultError(`the provider clients for ${key} could not be made: ${String(error)}`, { cause: error });
      });
      reader = made;
      this.readers.set(key, reader);
    }
    return reader;
  }
}
