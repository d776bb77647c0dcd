import { membershipFrom } from '../../../lambda/dependencies';

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
