import { depsFromEnvironment, membershipFrom } from '../../../lambda/dependencies';

describe('Function: membershipFrom', () => {
  it('is undefined for a single-account deployment', () => {
    // Act
    const membership = membershipFrom({ TABLE_NAME: 't' });

    // Assess
    expect(membership).toBeUndefined();
  });

  it.each([
    [
      { MEMBER_ACCOUNTS: '222222222222, 333333333333', MEMBER_REGIONS: 'eu-west-1' },
      { accounts: ['222222222222', '333333333333'], regions: ['eu-west-1'] },
    ],
    [
      { MEMBER_ACCOUNTS: '*', MEMBER_REGIONS: '' },
      { accounts: '*', regions: undefined },
    ],
  ])('reads the members from %j', (env, expected) => {
    // Act
    const membership = membershipFrom({ HOME_ACCOUNT: '111111111111', HOME_REGION: 'us-east-1', ...env });

    // Assess
    expect(membership).toEqual({ home: { account: '111111111111', region: 'us-east-1' }, ...expected });
  });
});

describe('Function: depsFromEnvironment', () => {
  it.each([
    ['on when CLASSIFY_ALL_FAILURES is true', { CLASSIFY_ALL_FAILURES: 'true' }, true],
    ['off when CLASSIFY_ALL_FAILURES is unset', {}, false],
    ['off when CLASSIFY_ALL_FAILURES is anything else', { CLASSIFY_ALL_FAILURES: 'yes' }, false],
  ])('turns classifyAllFailures %s', (_case, env, expected) => {
    // Act
    const deps = depsFromEnvironment({
      TABLE_NAME: 't',
      RETRY_QUEUE_URL: 'https://sqs.local/000000000000/q',
      AWS_REGION: 'us-east-1',
      ...env,
    });

    // Assess
    expect(deps.settings.classifyAllFailures).toBe(expected);
    expect(deps.providers).toBeDefined();
  });
});
