/**
 * Cost per million failure events, from the call counts and public list prices (us-east-1).
 * Assumed: 256 MB and 250 ms billed per invocation on AWS (real API round trips, not loopback).
 */
export const PRICES = {
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  dynamoWrite: 0.625 / 1e6,
  dynamoRead: 0.125 / 1e6,
  sqsRequest: 0.4 / 1e6,
  snsPublish: 0.5 / 1e6,
  stepFunctionsTransition: 25 / 1e6,
};
export const ASSUMED_BILLED_MS = 250;
export const MEMORY_GB = 0.25;

const readsOf = (d: Record<string, number>) => (d.GetItem ?? 0) + (d.BatchGetItem ?? 0) * 5 + (d.Query ?? 0) + (d.Scan ?? 0);
const writesOf = (d: Record<string, number>) => (d.UpdateItem ?? 0) + (d.PutItem ?? 0) + (d.DeleteItem ?? 0);

/** Ours, per million events, from the DynamoDB and SQS calls one event makes. */
export function costPerMillion(calls: { dynamodb: Record<string, number>; sqs: number } | undefined): number {
  if (!calls) return 0;
  return (
    1e6 *
    (PRICES.lambdaRequest +
      PRICES.lambdaGbSecondArm * MEMORY_GB * (ASSUMED_BILLED_MS / 1000) +
      PRICES.dynamoWrite * writesOf(calls.dynamodb) +
      PRICES.dynamoRead * readsOf(calls.dynamodb) +
      PRICES.sqsRequest * calls.sqs)
  );
}

/**
 * A Step Functions (standard) retry workflow per failure: start, GetPipelineState task, choice,
 * wait (cooldown), RetryStageExecution task, record result, end: about 7 state transitions,
 * plus the same DynamoDB record write.
 */
export const STEP_FUNCTIONS_PER_MILLION = 1e6 * (7 * PRICES.stepFunctionsTransition + PRICES.dynamoWrite);
