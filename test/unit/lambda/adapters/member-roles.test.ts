import { MemberRoles } from '../../../../lambda/adapters/member-roles';
import { MemberRoleError, RoleThrottledError, ThrottledError } from '../../../../lambda/domain/errors';

const MEMBER = { account: '210987654321', region: 'eu-west-1' };
const named = (name: string, message = name) => Object.assign(new Error(message), { name });

/** Member roles over an AssumeRole that answers each call from `answers`, in turn. */
function rolesAnswering(...answers: (Error | 'credentials' | 'nothing')[]) {
  let calls = 0;
  const roles = new MemberRoles(
    async () => async () => {
      const answer = answers[calls++] ?? 'credentials';
      if (answer instanceof Error) throw answer;
      return answer === 'nothing' ? undefined : { accessKeyId: `AKIA${calls}`, secretAccessKey: 'secret' };
    },
    'AutoRetryMember',
  );
  return { roles, calls: () => calls };
}

describe('Class: MemberRoles', () => {
  it.each([
    ['Throttling', RoleThrottledError],
    ['ThrottlingException', RoleThrottledError],
    ['AccessDenied', MemberRoleError],
  ])('makes an AssumeRole that fails with %s a %p naming the role', async (name, type) => {
    // Prepare
    const { roles } = rolesAnswering(named(name, 'Rate exceeded'));

    // Act
    const assumed = roles.credentials(MEMBER);

    // Assess
    await expect(assumed).rejects.toBeInstanceOf(type);
    await expect(assumed).rejects.toThrow(roles.roleArn(MEMBER));
  });

  it('keeps STS throttling a ThrottledError, so that the work waits as for any throttled call', async () => {
    // Act / Assess
    await expect(rolesAnswering(named('Throttling')).roles.credentials(MEMBER)).rejects.toBeInstanceOf(ThrottledError);
  });

  it('refuses an answer without credentials', async () => {
    // Act / Assess
    await expect(rolesAnswering('nothing').roles.credentials(MEMBER)).rejects.toBeInstanceOf(MemberRoleError);
  });

  it('does not remember a failure: the next call asks STS again, and keeps what it gets', async () => {
    // Prepare
    const { roles, calls } = rolesAnswering(named('Throttling'));
    await expect(roles.credentials(MEMBER)).rejects.toBeInstanceOf(RoleThrottledError);

    // Act
    const first = await roles.credentials(MEMBER);
    const again = await roles.credentials(MEMBER);

    // Assess
    expect(first.accessKeyId).toBe('AKIA2');
    expect(again).toBe(first);
    expect(calls()).toBe(2);
  });
});
