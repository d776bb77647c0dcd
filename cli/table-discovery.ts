import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { StackOutput } from '../contract';
import { InvalidInputError } from '../policy/errors';

const TABLE_OUTPUT = StackOutput.TableName;

/** Finds the table from the deployed stack's `TableName` output (CloudFormation DescribeStacks). */
export async function discoverTable(stackName: string, client: CloudFormationClient = new CloudFormationClient({})): Promise<string> {
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs;
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
    throw new InvalidInputError(`no table: pass --table <name> or set TABLE_NAME (looking up stack ${stackName} failed: ${reason})`, {
      cause: error,
    });
  } finally {
    client.destroy();
  }
  const table = outputs?.find((o) => o.OutputKey === TABLE_OUTPUT)?.OutputValue;
  if (!table) throw new InvalidInputError(`no table: stack ${stackName} has no ${TABLE_OUTPUT} output; pass --table <name>`);
  return table;
}
