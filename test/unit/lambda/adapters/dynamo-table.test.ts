import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { itemOf } from '../../../../lambda/adapters/dynamo-table';

describe('Function: itemOf', () => {
  it('reads the item DynamoDB returns with a failed conditional write', () => {
    // Prepare
    const error = new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: marshall({ pk: 'LEDGER#web-app', retries: 2, occ_1: { status: 'retried' } }),
    });

    // Act / Assess
    expect(itemOf(error)).toEqual({ pk: 'LEDGER#web-app', retries: 2, occ_1: { status: 'retried' } });
  });

  it('gives nothing when the store returned no item (dynalite, or an item that does not exist)', () => {
    expect(itemOf(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }))).toBeUndefined();
  });
});
