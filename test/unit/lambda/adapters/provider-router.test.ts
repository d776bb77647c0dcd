import type { Location } from '../../../../contract';
import { ProviderRouter } from '../../../../lambda/adapters/provider-router';
import { TableNames } from '../../../../lambda/adapters/table-names';
import { ThrottledError, TransientFaultError } from '../../../../lambda/domain/errors';
import type { ProviderPort } from '../../../../lambda/ports';

const HOME: Location = { account: '111111111111', region: 'us-east-1' };
const MEMBER: Location = { account: '222222222222', region: 'eu-west-1' };

/** A reader that names the location it was made for in every answer. */
function readerFor(made: Location): ProviderPort {
  return {
    build: async (_at, buildId) => ({ id: buildId, projectName: `${made.account}/${made.region}` }),
    failedTestCases: async () => [],
    deployment: async () => undefined,
    stackEvents: async () => [],
  };
}

describe('Class: ProviderRouter', () => {
  it('makes one reader per account and region, on its first call, and sends each call to its own', async () => {
    // Prepare
    const made: Location[] = [];
    const router = new ProviderRouter(new TableNames(HOME), async (at) => {
      made.push(at);
      return readerFor(at);
    });

    // Act
    const answers = [await router.build(HOME, 'a:1'), await router.build(MEMBER, 'b:2'), await router.build(MEMBER, 'c:3')];

    // Assess
    expect(answers.map((b) => b?.projectName)).toEqual(['111111111111/us-east-1', '222222222222/eu-west-1', '222222222222/eu-west-1']);
    expect(made).toEqual([HOME, MEMBER]);
  });

  it('treats every location as its own in a single-account deployment', async () => {
    // Prepare
    let made = 0;
    const router = new ProviderRouter(new TableNames(undefined), async (at) => {
      made += 1;
      return readerFor(at);
    });

    // Act
    await router.deployment(HOME, 'd-AAAAAAAAA');
    await router.deployment(MEMBER, 'd-BBBBBBBBB');

    // Assess
    expect(made).toBe(1);
  });

  it('throws TransientFaultError when the clients cannot be made, and tries again on the next call', async () => {
    // Prepare
    let attempts = 0;
    const router = new ProviderRouter(new TableNames(HOME), async (at) => {
      attempts += 1;
      if (attempts === 1) throw new Error('Cannot find module ./chunks/provider-reader.mjs');
      return readerFor(at);
    });

    // Act
    const first = await router.stackEvents(HOME, 'web-app', new Date(0)).catch((e: unknown) => e);
    const second = await router.stackEvents(HOME, 'web-app', new Date(0)).catch(() => 'failed again');

    // Assess
    expect(first).toBeInstanceOf(TransientFaultError);
    expect(second).toEqual([]);
    expect(attempts).toBe(2);
  });

  it("passes on the product's own errors as they are (a throttled role, for one)", async () => {
    // Prepare
    const router = new ProviderRouter(new TableNames(HOME), async () => {
      throw new ThrottledError('STS throttled AssumeRole');
    });

    // Act
    const read = router.failedTestCases(MEMBER, ['arn:aws:codebuild:eu-west-1:222222222222:report/unit:1']);

    // Assess
    await expect(read).rejects.toBeInstanceOf(ThrottledError);
  });
});
