import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { StackOutput } from '../../contract';
import { AutoRetryStack } from '../../lib/auto-retry-stack';
import { PipelineAutoRetry } from '../../lib/pipeline-auto-retry';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function constructIn(props: ConstructorParameters<typeof PipelineAutoRetry>[2] = {}): Template {
  const stack = new Stack(new App(), 'Platform', { env: ENV });
  new PipelineAutoRetry(stack, 'AutoRetry', props);
  return Template.fromStack(stack);
}

describe('Construct: PipelineAutoRetry outputs', () => {
  it('gives a stack of your own the table, operator policy and dashboard as outputs, the table described for the CLI', () => {
    // Act
    const template = constructIn();

    // Assess
    const outputs = template.findOutputs('*');
    const table = Object.values(outputs).filter((o) => o.Description === StackOutput.TableDescription);
    expect(table).toEqual([expect.objectContaining({ Value: { Ref: expect.stringMatching(/^AutoRetryTable/) } })]);
    template.hasOutput('*', {
      Description: Match.stringLikeRegexp('operator'),
      Value: { Ref: Match.stringLikeRegexp('^AutoRetryOperatorPolicy') },
    });
    template.hasOutput('*', { Description: 'codepipeline-auto-retry dashboard' });
  });

  it('makes no outputs when told not to', () => {
    // Act
    const template = constructIn({ outputs: false });

    // Assess
    expect(template.findOutputs('*')).toEqual({});
  });

  it('keeps the stack’s own fixed output keys, once each', () => {
    // Act
    const template = Template.fromStack(new AutoRetryStack(new App(), 'CodePipelineAutoRetry', { env: ENV }));

    // Assess
    const outputs = template.findOutputs('*');
    expect(outputs.TableName).toEqual(expect.objectContaining({ Description: StackOutput.TableDescription }));
    expect(Object.values(outputs).filter((o) => o.Description === StackOutput.TableDescription)).toHaveLength(1);
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['OperatorPolicyArn', 'DashboardName']));
  });
});
