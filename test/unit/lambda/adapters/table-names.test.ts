import { TableNames } from '../../../../lambda/adapters/table-names';

const HOME = { account: '123456789012', region: 'us-east-1' };
const MEMBER = { account: '210987654321', region: 'eu-west-1' };
const stage = { pipeline: 'web-app', stage: 'Test', executionId: 'e-1' };

describe('Class: TableNames', () => {
  it.each([
    ['a single-account deployment', undefined, MEMBER, 'LEDGER#web-app'],
    ['the central account’s own pipeline', HOME, HOME, 'LEDGER#web-app'],
    ['a member’s pipeline', HOME, MEMBER, 'LEDGER#210987654321/eu-west-1/web-app'],
    [
      'a pipeline in the central account but another region',
      HOME,
      { ...HOME, region: 'eu-west-1' },
      'LEDGER#123456789012/eu-west-1/web-app',
    ],
  ])('keys the ledger record of %s as the deployed tables do', (_case, home, at, pk) => {
    // Prepare
    const names = new TableNames(home);

    // Act
    const key = names.ledger({ ...at, ...stage });

    // Assess
    expect(key).toEqual({ pk, sk: 'Test#e-1' });
  });

  it('keys a record that names no location by the bare pipeline name, as operators look central pipelines up', () => {
    // Prepare
    const names = new TableNames(HOME);

    // Act
    const key = names.ledger(stage);

    // Assess
    expect(key).toEqual({ pk: 'LEDGER#web-app', sk: 'Test#e-1' });
  });

  it.each([
    ['the central account and region', HOME, 'home', true],
    ['a member', MEMBER, '210987654321/eu-west-1', false],
  ])('names the shared rate of %s, and tells it from the others', (_case, at, scope, home) => {
    // Prepare
    const names = new TableNames(HOME);

    // Act
    const named = { scope: names.rateScope(at), home: names.isHome(at) };

    // Assess
    expect(named).toEqual({ scope, home });
  });

  it('keys a member pipeline’s budget by its scoped name', () => {
    // Act
    const key = new TableNames(HOME).budget({ ...MEMBER, pipeline: 'web-app' });

    // Assess
    expect(key).toEqual({ pk: 'BUDGET', sk: '210987654321/eu-west-1/web-app' });
  });
});
