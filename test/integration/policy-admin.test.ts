import { DynamoTable } from '../../lambda/adapters/dynamo-table';
import { PolicyAdmin } from '../../lambda/admin/policy-admin';
import type { FaultProxy } from '../../local/fault-proxy';
import { proxiedDynamoClient, useLocalAws } from '../support';

const aws = useLocalAws();
let proxy: FaultProxy;
let admin: PolicyAdmin;

beforeAll(async () => {
  proxy = await aws.ownFaults();
  const client = proxiedDynamoClient(proxy);
  admin = new PolicyAdmin(new DynamoTable(aws.tableName, client));
});

describe('Adapter: PolicyAdmin pause switches', () => {
  it('says a switch was lifted when the delete took effect and its answer was lost', async () => {
    // Prepare
    await admin.pause('web-app', { updatedBy: 'me', now: new Date() });
    proxy.inject({ match: (c) => c.operation === 'DeleteItem', fault: 'apply-then-500' });

    // Act
    const lifted = await admin.resume('web-app');

    // Assess
    expect(proxy.lostReplies()).toHaveLength(1);
    expect((await admin.load('web-app', 'Test')).paused).toBe(false);
    expect(lifted).toBe(true);
  });

  it('says there was nothing to lift when there was no switch', async () => {
    // Act / Assess
    expect(await admin.resume('never-paused')).toBe(false);
  });
});
