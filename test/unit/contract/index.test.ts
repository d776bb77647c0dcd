import { parseScopedPipeline, partitionOf, scopedPipeline, TableKeys } from '../../../contract';

const HOME = { account: '111111111111', region: 'us-east-1' };

describe('Function: scopedPipeline', () => {
  it.each([
    ['keeps a single-account deployment’s names bare', { account: '222222222222', region: 'eu-west-1' }, undefined, 'web-app'],
    ['keeps the central account’s own region bare', HOME, HOME, 'web-app'],
    [
      'names a member’s pipeline by account and region',
      { account: '222222222222', region: 'eu-west-1' },
      HOME,
      '222222222222/eu-west-1/web-app',
    ],
    [
      'names the central account’s other regions too',
      { account: HOME.account, region: 'eu-west-1' },
      HOME,
      '111111111111/eu-west-1/web-app',
    ],
  ])('%s', (_case, at, home, expected) => {
    // Act
    const scoped = scopedPipeline(at, 'web-app', home);

    // Assess
    expect(scoped).toBe(expected);
    expect(parseScopedPipeline(scoped).pipeline).toBe('web-app');
  });

  it('reads a member’s scoped name back into its parts', () => {
    // Act
    const parts = parseScopedPipeline('222222222222/eu-west-1/web-app');

    // Assess
    expect(parts).toEqual({ account: '222222222222', region: 'eu-west-1', pipeline: 'web-app' });
  });
});

describe('Object: TableKeys', () => {
  it('keeps the single-account keys and adds account-scoped ones beside them', () => {
    // Act
    const keys = [
      TableKeys.pipelinePolicy('web-app'),
      TableKeys.pipelinePolicy('web-app', '222222222222'),
      TableKeys.stagePolicy('web-app', 'Test', '222222222222'),
      TableKeys.accountPolicy('222222222222'),
      TableKeys.pause('web-app', '222222222222'),
      TableKeys.pauseAccount('222222222222'),
    ].map((k) => `${k.pk} ${k.sk}`);

    // Assess
    expect(keys).toEqual([
      'POLICY P#web-app',
      'POLICY P#222222222222/web-app',
      'POLICY S#222222222222/web-app#Test',
      'POLICY A#222222222222',
      'PAUSE 222222222222/web-app',
      'PAUSE account:222222222222',
    ]);
  });
});

describe('Function: partitionOf', () => {
  it.each([
    ['us-east-1', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
  ])('puts %s in %s', (region, partition) => {
    // Act
    const found = partitionOf(region);

    // Assess
    expect(found).toBe(partition);
  });
});
