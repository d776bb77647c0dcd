import { autoRetryFromContext } from '../../../policy/context';

describe('Function: autoRetryFromContext', () => {
  it.each([['autoretry'], ['AutoRetry'], ['autoRetrys'], ['autRetry']])('refuses a context key %j that looks like autoRetry', (key) => {
    // Act / Assess
    expect(() => autoRetryFromContext({ [key]: { default: { maxRetries: 1 } } })).toThrow(`context key "${key}" looks like "autoRetry"`);
  });

  it('reads a context value given as a JSON string, as -c autoRetry=… gives it', () => {
    // Act
    const { raw, origin } = autoRetryFromContext({ autoRetry: '{"default":{"maxRetries":1}}', other: true });

    // Assess
    expect(raw).toEqual({ default: { maxRetries: 1 } });
    expect(origin).toBe('context string');
  });

  it('says a string that is not JSON is not JSON, in one line', () => {
    // Act / Assess
    expect(() => autoRetryFromContext({ autoRetry: '{default:' })).toThrow(/^context autoRetry is a string but not JSON/);
  });

  it('leaves unrelated keys and a missing block alone', () => {
    // Act / Assess
    expect(autoRetryFromContext({ '@aws-cdk/core:checkSecretUsage': true, stackName: 'x' })).toEqual({
      raw: undefined,
      origin: 'cdk.json',
    });
  });
});

describe('Function: autoRetryFromContext, sections in the wrong place', () => {
  it.each(['organization', 'pipelines', 'Notifications'])('refuses %s beside autoRetry instead of inside it', (key) => {
    // Act / Assess
    expect(() => autoRetryFromContext({ autoRetry: {}, [key]: {} })).toThrow(
      `context key "${key}" is a section of autoRetry: move it inside the "autoRetry" block (next to it, it would be ignored)`,
    );
  });
});
