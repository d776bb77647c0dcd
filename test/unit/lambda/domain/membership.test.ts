import { notServed } from '../../../../lambda/domain/membership';

const HOME = { account: '111111111111', region: 'us-east-1' };

describe('Function: notServed', () => {
  it.each<[string, Parameters<typeof notServed>[0], { account: string; region: string }, string | undefined]>([
    ['a single-account deployment, any event', undefined, { account: '999999999999', region: 'eu-west-1' }, undefined],
    ['the central account in its own region', { home: HOME, accounts: [] }, HOME, undefined],
    [
      'a listed member in a listed region',
      { home: HOME, accounts: ['222222222222'], regions: ['eu-west-1'] },
      { account: '222222222222', region: 'eu-west-1' },
      undefined,
    ],
    [
      'a listed member in the central region',
      { home: HOME, accounts: ['222222222222'], regions: ['eu-west-1'] },
      { account: '222222222222', region: 'us-east-1' },
      undefined,
    ],
    [
      'the central account in a member region',
      { home: HOME, accounts: ['222222222222'], regions: ['eu-west-1'] },
      { account: HOME.account, region: 'eu-west-1' },
      undefined,
    ],
    [
      'an account outside the list',
      { home: HOME, accounts: ['222222222222'] },
      { account: '333333333333', region: 'us-east-1' },
      'account 333333333333 is not a member',
    ],
    [
      'a listed member in another region',
      { home: HOME, accounts: ['222222222222'], regions: ['eu-west-1'] },
      { account: '222222222222', region: 'ap-south-1' },
      'region ap-south-1 is not served',
    ],
    ['any account of an organization', { home: HOME, accounts: '*' }, { account: '333333333333', region: 'us-east-1' }, undefined],
  ])('%s', (_case, membership, at, expected) => {
    // Act
    const why = notServed(membership, at);

    // Assess
    if (expected === undefined) expect(why).toBeUndefined();
    else expect(why).toContain(expected);
  });
});
