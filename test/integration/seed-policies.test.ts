import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { PolicyAdmin } from '../../lambda/admin/policy-admin';
import { parseAutoRetryConfig } from '../../lib/config';
import { resolveProps } from '../../lib/policies';
import { LocalDynamo } from '../../local/dynamo';

const dynamo = new LocalDynamo();
const TABLE = 'seed-table';
let onEvent: typeof import('../../lambda/seed/handler').onEvent;

function deployEvent(requestType: 'Create' | 'Update' | 'Delete', autoRetry: unknown): CloudFormationCustomResourceEvent {
  const policies = JSON.stringify(resolveProps(parseAutoRetryConfig(autoRetry)).policies);
  return {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1',
    RequestId: 'r-1',
    LogicalResourceId: 'Policies',
    ResourceType: 'Custom::AutoRetryPolicies',
    PhysicalResourceId: `policies-${TABLE}`,
    ResourceProperties: { ServiceToken: 'x', TableName: TABLE, Policies: policies },
    OldResourceProperties: {},
  } as CloudFormationCustomResourceEvent;
}

beforeAll(async () => {
  await dynamo.start();
  await dynamo.createTable(TABLE);
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  });
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  ({ onEvent } = await import('../../lambda/seed/handler'));
});

afterAll(async () => {
  jest.restoreAllMocks();
  await dynamo.stop();
});

describe('Custom resource: seed policies at deploy', () => {
  const store = () => new PolicyAdmin(new DynamoTable(TABLE, dynamo.client()));

  it('writes the policies, keeps an operator’s change through later deploys, and removes what cdk.json dropped', async () => {
    // Prepare: the first deploy.
    await onEvent(
      deployEvent('Create', {
        default: { maxRetries: 2 },
        pipelines: { 'web-app': { maxRetries: 3, stages: { Deploy: { retryMode: 'ALL_ACTIONS' } } }, api: { cooldown: '1m' } },
      }),
    );
    // An operator changes web-app at run time.
    await store().setPolicy({ kind: 'pipeline', pipeline: 'web-app' }, { maxRetries: 0 }, 'alice', new Date());

    // Act: a later deploy changes web-app and the default, and drops api and the Deploy override.
    const result = await onEvent(deployEvent('Update', { default: { maxRetries: 1 }, pipelines: { 'web-app': { maxRetries: 5 } } }));

    // Assess
    expect(result.Data).toEqual({ Written: 'DEFAULT', KeptOperatorChanges: 'P#web-app', Removed: 'P#api,S#web-app#Deploy' });
    const items = await store().listPolicies();
    expect(items.map((i) => [i.scope, i.patch, i.source])).toEqual(
      expect.arrayContaining([
        [{ kind: 'default' }, { maxRetries: 1 }, 'config'],
        [{ kind: 'pipeline', pipeline: 'web-app' }, { maxRetries: 0 }, 'cli'],
      ]),
    );
    expect(items).toHaveLength(2);
  });

  it('hands a policy back to cdk.json once the operator deletes it', async () => {
    // Prepare
    await store().setPolicy({ kind: 'pipeline', pipeline: 'handback' }, { maxRetries: 0 }, 'alice', new Date());
    await onEvent(deployEvent('Update', { pipelines: { handback: { maxRetries: 4 } } }));
    const whileOwned = (await store().load('handback', 'Test')).layers.pipeline;

    // Act
    await store().deletePolicy({ kind: 'pipeline', pipeline: 'handback' });
    await onEvent(deployEvent('Update', { pipelines: { handback: { maxRetries: 4 } } }));

    // Assess
    expect(whileOwned).toEqual({ maxRetries: 0 });
    expect((await store().load('handback', 'Test')).layers.pipeline).toEqual({ maxRetries: 4 });
  });

  it('leaves the table alone when the stack deletes the resource', async () => {
    // Prepare
    const before = await store().listPolicies();

    // Act
    const result = await onEvent(deployEvent('Delete', {}));

    // Assess
    expect(result.PhysicalResourceId).toBe(`policies-${TABLE}`);
    expect(await store().listPolicies()).toEqual(before);
  });
});
