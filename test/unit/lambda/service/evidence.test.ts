import type { Classification } from '../../../../lambda/domain/provider-answers';
import { failureRecordOfEvidence, withRecordedClasses } from '../../../../lambda/service/evidence';

const throttled: Classification = { class: 'unknown', evidence: 'CodeBuild throttled the read; taken as unknown', unread: true };
const classesOf = (entries: Record<string, Classification>) => ({ classes: new Map(Object.entries(entries)) });

describe('Function: failureRecordOfEvidence', () => {
  it('records the class of each action whose provider was read, and none for one not read', () => {
    // Prepare
    const evidence = classesOf({
      Build: { class: 'infrastructure', evidence: 'PROVISIONING failed' },
      Lint: { class: 'unknown', evidence: 'nothing said' },
      Deploy: throttled,
    });

    // Act
    const record = failureRecordOfEvidence(evidence);

    // Assess
    expect(record.failureClass).toBe('infrastructure');
    expect(record.actionClasses).toEqual({ Build: 'infrastructure', Lint: 'unknown' });
  });
});

describe('Function: withRecordedClasses', () => {
  it('gives the one failed action of a claim from before action classes the class the claim recorded', () => {
    // Act
    const evidence = withRecordedClasses(classesOf({ Build: throttled }), { failureClass: 'throttled' }, true);

    // Assess
    expect(evidence.classes?.get('Build')?.class).toBe('throttled');
  });

  const recorded = { failureClass: 'infrastructure', actionClasses: { Build: 'infrastructure' } };

  it('gives an action not read at the due time the class recorded when the retry was scheduled, and says so', () => {
    // Act
    const evidence = withRecordedClasses(classesOf({ Build: throttled }), recorded, true);

    // Assess
    const build = evidence.classes?.get('Build');
    expect(build?.class).toBe('infrastructure');
    expect(build?.unread).toBeUndefined();
    expect(build?.evidence).toBe(
      'infrastructure as read when the retry was scheduled; at its due time CodeBuild throttled the read; taken as unknown',
    );
  });

  it.each([
    ['the stage no longer shows the failed runs the claim was made for', classesOf({ Build: throttled }), recorded, false],
    ['the action was read at the due time', classesOf({ Build: { class: 'test', evidence: '3 failed tests' } }), recorded, true],
    ['the claim recorded no class for the action', classesOf({ Build: throttled }), { failureClass: 'unknown' }, true],
    [
      'a claim from before action classes has a class for a stage of two failed actions',
      classesOf({ Build: throttled, Lint: throttled }),
      { failureClass: 'infrastructure' },
      true,
    ],
    ['the recorded class is not one of ours', classesOf({ Build: throttled }), { actionClasses: { Build: 'gremlins' } }, true],
  ])('leaves the evidence as read when %s', (_case, evidence, record, sameRuns) => {
    // Act / Assess
    expect(withRecordedClasses(evidence, record, sameRuns)).toBe(evidence);
  });
});
