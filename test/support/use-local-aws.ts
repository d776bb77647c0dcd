import type { PolicyPatch } from '../../lambda/domain/policy';
import { LocalAws } from '../../local/local-aws';

/**
 * The local services for one test file: started before its tests (with the default policy
 * seeded, if given) and stopped after them.
 */
export function useLocalAws(defaultPolicy?: PolicyPatch): LocalAws {
  const aws = new LocalAws();
  beforeAll(async () => {
    await aws.start();
    if (defaultPolicy) await aws.policies().seed([{ scope: { kind: 'default' }, patch: defaultPolicy }], new Date());
  });
  afterAll(async () => {
    await aws.stop();
  });
  return aws;
}
