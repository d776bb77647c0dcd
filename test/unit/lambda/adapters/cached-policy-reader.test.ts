import { TableKeys } from '../../../../contract';
import { CachedPolicyReader } from '../../../../lambda/adapters/cached-policy-reader';
import type { PolicySnapshot, PolicySnapshotSource } from '../../../../lambda/adapters/policy-reader';

const HERE = { account: '123456789012', region: 'us-east-1' };

/** A source whose snapshot says how often it was read: the default policy's maxRetries is the read count. */
class CountingSource implements PolicySnapshotSource {
  public calls = 0;
  public fail = false;
  public async snapshot(): Promise<PolicySnapshot> {
    this.calls += 1;
    if (this.fail) throw new Error('DynamoDB unreachable');
    const key = TableKeys.defaultPolicy();
    return { items: new Map([[`${key.pk}\u0000${key.sk}`, { ...key, maxRetries: this.calls }]]) };
  }
}

describe('Class: CachedPolicyReader', () => {
  it('reads once within the lifetime, whatever the pipelines and stages, and again after it', async () => {
    // Prepare
    let now = 0;
    const source = new CountingSource();
    const cache = new CachedPolicyReader(source, 10, () => now);

    // Act
    await cache.load({ ...HERE, pipeline: 'a' }, 'Test');
    await cache.load({ ...HERE, pipeline: 'a' }, 'Deploy');
    await cache.load({ ...HERE, pipeline: 'b' }, 'Test');
    now = 10_001;
    const later = await cache.load({ ...HERE, pipeline: 'c' }, 'Test');

    // Assess
    expect(source.calls).toBe(2);
    expect(later.layers.default?.maxRetries).toBe(2);
  });

  it('does not remember a failed read', async () => {
    // Prepare
    const source = new CountingSource();
    const cache = new CachedPolicyReader(source, 10, () => 0);
    source.fail = true;
    await expect(cache.load({ ...HERE, pipeline: 'a' }, 'Test')).rejects.toThrow('DynamoDB unreachable');
    source.fail = false;

    // Act
    const context = await cache.load({ ...HERE, pipeline: 'a' }, 'Test');

    // Assess
    expect(context.layers.default?.maxRetries).toBe(2);
  });

  it('reads every time when the lifetime is 0', async () => {
    // Prepare
    const source = new CountingSource();
    const cache = new CachedPolicyReader(source, 0, () => 0);

    // Act
    await cache.load({ ...HERE, pipeline: 'a' }, 'Test');
    await cache.load({ ...HERE, pipeline: 'a' }, 'Test');

    // Assess
    expect(source.calls).toBe(2);
  });
});
