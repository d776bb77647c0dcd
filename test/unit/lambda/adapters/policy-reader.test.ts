import { type TableKey, TableKeys } from '../../../../contract';
import { contextOf, type PolicySnapshot } from '../../../../lambda/adapters/policy-reader';
import { resolvePolicy } from '../../../../policy/policy';

const MEMBER = '222222222222';

/** A snapshot holding these items, keyed as the reader keys them. */
function snapshot(items: [TableKey, Record<string, unknown>][]): PolicySnapshot {
  return { items: new Map(items.map(([key, fields]) => [`${key.pk}\u0000${key.sk}`, { ...key, ...fields }])) };
}

describe('Function: contextOf', () => {
  const items = snapshot([
    [TableKeys.defaultPolicy(), { maxRetries: 2, cooldownSeconds: 60 }],
    [TableKeys.accountPolicy(MEMBER), { maxRetries: 4, retryMode: 'ALL_ACTIONS' }],
    [TableKeys.pipelinePolicy('web-app'), { maxRetries: 3, cooldownSeconds: 30 }],
    [TableKeys.pipelinePolicy('web-app', MEMBER), { maxRetries: 1 }],
    [TableKeys.stagePolicy('web-app', 'Deploy', MEMBER), { maxRetries: 0 }],
  ]);

  it.each<[string, string | undefined, string, Record<string, unknown>, Record<string, string>]>([
    [
      'the central account: pipeline over default',
      undefined,
      'Test',
      { maxRetries: 3, cooldownSeconds: 30, retryMode: 'FAILED_ACTIONS' },
      { maxRetries: 'pipeline' },
    ],
    [
      'a member: its own pipeline policy over the one for every account, over its defaults',
      MEMBER,
      'Test',
      { maxRetries: 1, cooldownSeconds: 30, retryMode: 'ALL_ACTIONS' },
      { maxRetries: 'pipeline', cooldownSeconds: 'pipeline', retryMode: 'account' },
    ],
    ['a member stage: its stage policy over everything', MEMBER, 'Deploy', { maxRetries: 0 }, { maxRetries: 'stage' }],
    ['another account: only the policies for every account', '333333333333', 'Deploy', { maxRetries: 3 }, { maxRetries: 'pipeline' }],
  ])('resolves %s', (_case, account, stage, fields, sources) => {
    // Act
    const resolved = resolvePolicy(contextOf(items, account, 'web-app', stage).layers);

    // Assess
    expect(resolved.policy).toEqual(expect.objectContaining(fields));
    expect(resolved.sources).toEqual(expect.objectContaining(sources));
  });

  it.each<[string, TableKey, string | undefined, boolean]>([
    ['the kill switch pauses every account', TableKeys.pauseAll(), MEMBER, true],
    ['a pipeline switch pauses it in every account', TableKeys.pause('web-app'), MEMBER, true],
    ["an account's switch pauses its pipelines", TableKeys.pauseAccount(MEMBER), MEMBER, true],
    ["an account's switch leaves other accounts alone", TableKeys.pauseAccount(MEMBER), '333333333333', false],
    ["a switch for the pipeline in one account leaves the central account's alone", TableKeys.pause('web-app', MEMBER), undefined, false],
  ])('%s', (_case, key, account, paused) => {
    // Act
    const context = contextOf(snapshot([[key, { paused: true }]]), account, 'web-app', 'Test');

    // Assess
    expect(context.paused).toBe(paused);
  });
});
