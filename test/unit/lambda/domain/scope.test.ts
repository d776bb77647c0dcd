import { InvalidInputError } from '../../../../lambda/domain/errors';
import { notServed } from '../../../../lambda/domain/membership';
import { parsePolicyTarget, targetLabel } from '../../../../lambda/domain/scope';

const HOME = { account: '111111111111', region: 'us-east-1' };

describe('Function: parsePolicyTarget', () => {
  it.each([
    ['web-app', { pipeline: 'web-app' }],
    ['222222222222/web-app', { account: '222222222222', pipeline: 'web-app' }],
    ['account:222222222222', { account: '222222222222' }],
    ['web.app_1@x-y', { pipeline: 'web.app_1@x-y' }],
  ])('reads %s', (text, expected) => {
    // Act
    const target = parsePolicyTarget(text, 'pipeline');

    // Assess
    expect(target).toEqual(expected);
  });

  it.each([
    ['web/app', 'is not a valid CodePipeline name'],
    ['222222222222/web app', "after '/' comes a pipeline name"],
    ['account:2222', 'an account is 12 digits'],
    ['222222222222/eu-west-1/web-app', 'is not a valid CodePipeline name'],
    ['', 'is not a valid CodePipeline name'],
  ])('refuses %j with a message naming the problem', (text, message) => {
    // Act
    const parse = () => parsePolicyTarget(text, 'pipeline');

    // Assess
    expect(parse).toThrow(InvalidInputError);
    expect(parse).toThrow(message);
  });

  it.each([
    [{ kind: 'pipeline', pipeline: 'web-app' } as const, 'web-app'],
    [{ kind: 'pipeline', pipeline: 'web-app', account: '222222222222' } as const, '222222222222/web-app'],
    [{ kind: 'account', account: '222222222222' } as const, 'account:222222222222'],
  ])('writes a scope back as it is read: %j', (scope, label) => {
    // Act
    const written = targetLabel(scope);

    // Assess
    expect(written).toBe(label);
    expect(parsePolicyTarget(written, 'pipeline')).toEqual(
      scope.kind === 'account' ? { account: scope.account } : expect.objectContaining({ pipeline: 'web-app' }),
    );
  });
});

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
