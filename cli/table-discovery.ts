import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { StackOutput } from '../contract';
import { endpointOf, NoTableError, Service, ServiceFaultError, unreachableCode } from './faults';

const TABLE_OUTPUT = StackOutput.TableName;

/**
 * Finds the table from the deployed stack's outputs (CloudFormation DescribeStacks): the output
 * keyed `TableName` (the stack this project deploys), or the one described as the table (the
 * construct in a stack of your own, whose output ids carry its path).
 */
export async function discoverTable(
  stackName: string,
  options: { readonly client?: CloudFormationClient; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<{ readonly table: string; readonly output: string }> {
  const { client = new CloudFormationClient({}), env = process.env } = options;
  let outputs: { OutputKey?: string; OutputValue?: string; Description?: string }[] | undefined;
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs;
  } catch (error) {
    const code = unreachableCode(error);
    if (code) {
      const endpoint = await endpointOf(client, Service.CloudFormation, env);
      throw new ServiceFaultError(
        `cannot reach CloudFormation at ${endpoint} (${code}) to find stack ${stackName}'s TableName output; pass --table <name> or set TABLE_NAME`,
        { cause: error },
      );
    }
    const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
    throw new NoTableError(`no table: pass --table <name> or set TABLE_NAME (looking up stack ${stackName} failed: ${reason})`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
  const keyed = outputs?.find((o) => o.OutputKey === TABLE_OUTPUT)?.OutputValue;
  if (keyed) return { table: keyed, output: TABLE_OUTPUT };
  const described = (outputs ?? []).filter((o) => o.Description === StackOutput.TableDescription && o.OutputValue);
  const [only] = described;
  if (described.length === 1 && only?.OutputValue) return { table: only.OutputValue, output: only.OutputKey ?? TABLE_OUTPUT };
  if (described.length > 1) {
    throw new NoTableError(
      `stack ${stackName} holds ${described.length} auto-retry tables (${described.map((o) => o.OutputValue).join(', ')}); pass --table <name>`,
    );
  }
  throw new NoTableError(`no table: stack ${stackName} has no ${TABLE_OUTPUT} output; pass --table <name>`);
}
