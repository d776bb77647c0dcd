import { InvalidInputError } from '../../../policy/errors';
import { parsePolicyTarget, targetLabel } from '../../../policy/scope';

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
