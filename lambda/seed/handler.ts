import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { InvalidInputError } from '../../policy/errors';
import type { PolicySeed } from '../../policy/scope';
import { DynamoTable } from '../adapters/dynamo-table';
import { JsonLogger } from '../adapters/json-logger';
import { seedPolicies } from './policy-seeder';

const logger = new JsonLogger();
const client = new DynamoDBClient({});

/**
 * Custom resource (through the CDK Provider framework) that writes cdk.json's policies into the
 * table on every deploy. Items an operator changed with the CLI are left alone and reported;
 * policies removed from cdk.json are deleted unless an operator has taken them over.
 */
export async function onEvent(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data: Record<string, string> }> {
  const physicalId = `policies-${String(event.ResourceProperties.TableName)}`;
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalId, Data: {} };
  const tableName = event.ResourceProperties.TableName;
  const policies = JSON.parse(String(event.ResourceProperties.Policies ?? '[]')) as PolicySeed[];
  if (typeof tableName !== 'string' || !Array.isArray(policies)) throw new InvalidInputError('TableName and Policies are required');

  const result = await seedPolicies(new DynamoTable(tableName, client), policies, new Date());
  logger.log('info', 'policies seeded', { ...result });
  if (result.keptOperatorChanges.length > 0) {
    logger.log('warn', 'deploy left operator-changed policies as they are', { policies: result.keptOperatorChanges });
  }
  return {
    PhysicalResourceId: physicalId,
    Data: {
      Written: result.written.join(','),
      KeptOperatorChanges: result.keptOperatorChanges.join(',') || 'none',
      Removed: result.removed.join(','),
    },
  };
}
