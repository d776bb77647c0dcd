import { CodePipelineClient, GetPipelineCommand, GetPipelineStateCommand, RetryStageExecutionCommand } from '@aws-sdk/client-codepipeline';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * The SDK floor: bare SDK v3 clients making the calls the handler makes for one failure, against
 * the same local services, with none of the product's code around them. The handler's figures
 * are read against this floor, measured in the same run.
 */
export class SdkFloor {
  private readonly cp = new CodePipelineClient({});
  private readonly ddb = new DynamoDBClient({});

  public constructor(private readonly tableName: string) {}

  /** A duplicate: only the state read. */
  public async duplicate(pipeline: string): Promise<void> {
    await this.cp.send(new GetPipelineStateCommand({ name: pipeline }));
  }

  /** An immediate retry on a warm instance: state read, conditional claim, the retry, the outcome. */
  public async immediate(pipeline: string, executionId: string, structure = false): Promise<void> {
    await this.cp.send(new GetPipelineStateCommand({ name: pipeline }));
    if (structure) await this.cp.send(new GetPipelineCommand({ name: pipeline }));
    const Key = marshall({ pk: `FLOOR#${pipeline}`, sk: executionId });
    await this.ddb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key,
        UpdateExpression: 'SET claimed = :one',
        ConditionExpression: 'attribute_not_exists(claimed)',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
      }),
    );
    await this.cp.send(
      new RetryStageExecutionCommand({
        pipelineName: pipeline,
        stageName: 'Test',
        pipelineExecutionId: executionId,
        retryMode: 'FAILED_ACTIONS',
      }),
    );
    await this.ddb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key,
        UpdateExpression: 'SET done = :one',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
      }),
    );
  }
}
