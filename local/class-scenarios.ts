import type { PolicyPatch } from '../policy/policy';
import { transientRules } from '../policy/rules';
import type { BuildSpec } from './codebuild-emulator';

/**
 * The failure-class scenarios of the simulation and the sandbox: a CodeBuild action whose build
 * the local CodeBuild answers for, under a policy of the scenario's own (set for its pipeline when
 * it is played), so `history`, `status` and `report` show the class and its evidence.
 */

/** A build as the local CodeBuild reports it: the action's first failure, then each failed retry in turn (the last repeats). */
export type ScenarioBuild = Omit<BuildSpec, 'project'>;

/** What a failure-class scenario adds to a plain one. */
export interface ClassScenarioParts {
  /** The pipeline's policy while the scenario plays (a pipeline policy, replacing one there was). */
  readonly policy?: PolicyPatch;
  readonly builds?: readonly ScenarioBuild[];
}

const brokenCart: ScenarioBuild = {
  phase: 'BUILD',
  reports: [
    {
      cases: [
        { name: 'renders the cart', status: 'FAILED', suite: 'cart' },
        { name: 'totals the cart', status: 'FAILED', suite: 'cart' },
      ],
    },
  ],
};

export const CLASS_SCENARIOS = [
  {
    name: 'provisioning-failure',
    title: 'A build fleet that could not provision, retried under retryOn "transient"',
    pipeline: 'build-fleet',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: ['Succeeded'],
    error: { code: 'JobFailed', message: 'Build failed to start' },
    policy: { retryOn: transientRules() },
    builds: [{ phase: 'PROVISIONING' }],
  },
  {
    name: 'broken-test',
    title: 'A broken test, left alone under retryOn "transient"',
    pipeline: 'cart-service',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: [],
    error: { code: 'JobFailed', message: '2 tests failed' },
    policy: { retryOn: transientRules() },
    builds: [brokenCart],
  },
  {
    name: 'same-tests-failed',
    title: 'The same tests failing again stop a policy that retries any failure',
    pipeline: 'checkout',
    stage: 'Test',
    failedActions: ['UnitTests'],
    retryResults: [],
    error: { code: 'JobFailed', message: '2 tests failed' },
    policy: { maxRetries: 3 },
    builds: [brokenCart],
  },
] as const;
