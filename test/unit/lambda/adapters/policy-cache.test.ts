import { CachedPolicyReader } from '../../../../lambda/adapters/policy-cache';
import type { PolicyContext, PolicyReader } from '../../../../lambda/ports';

class CountingReader implements PolicyReader {
  public calls = 0;
  public fail = false;
  public async load(): Promise<PolicyContext> {
    this.calls += 1;
    if (this.fail) throw new Error('DynamoDB unreachable');
    return { layers: { pipeline: { maxRetries: this.calls } }, paused: false, problems: [] };
  }
}

describe('Class: CachedPolicyReader', () => {
  it('reads once per pipeline and stage within the lifetime, and again after it', async () => {
    // Prepare
    let now = 0;
    const inner = new CountingReader();
    const cache = new CachedPolicyReader(inner, 10, () => now);

    // Act
    await cache.load('a', 'Test');
    await cache.load('a', 'Test');
    await cache.load('a', 'Deploy');
    now = 10_001;
    const later = await cache.load('a', 'Test');

    // Assess
    expect(inner.calls).toBe(3);
    expect(later.layers.pipeline?.maxRetries).toBe(3);
  });

  it('does not remember a failed read', async () => {
    // Prepare
    const inner = new CountingReader();
    const cache = new CachedPolicyReader(inner, 10, () => 0);
    inner.fail = true;

    // Act
    await expect(cache.load('a', 'Test')).rejects.toThrow('DynamoDB unreachable');
    inner.fail = false;
    const second = await cache.load('a', 'Test');

    // Assess
    expect(second.layers.pipeline?.maxRetries).toBe(2);
  });

  it('reads every time when the lifetime is 0', async () => {
    // Prepare
    const inner = new CountingReader();
    const cache = new CachedPolicyReader(inner, 0);

    // Act
    await cache.load('a', 'Test');
    await cache.load('a', 'Test');

    // Assess
    expect(inner.calls).toBe(2);
  });
});
