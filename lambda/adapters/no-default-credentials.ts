/**
 * Stands in for @aws-sdk/credential-provider-node in the functions' bundles (an esbuild alias).
 * Lambda puts the function's credentials in the environment, and every client gets them from
 * there (see clients.ts); the default chain's SSO, STS, web-identity, ini, process and IMDS
 * providers never run on Lambda and would only make the bundle bigger and its load slower.
 */
export function defaultProvider(): () => Promise<never> {
  return () => Promise.reject(new Error('the default credential chain is not bundled: credentials come from the environment'));
}

export const credentialsWillNeedRefresh = (): boolean => false;
export const credentialsTreatedAsExpired = (): boolean => false;
