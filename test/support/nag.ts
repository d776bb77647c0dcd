import { type App, type Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ControlTowerChecks } from '../../bin/control-tower';

/**
 * Synthesises the app with cdk-nag's AwsSolutions and Serverless packs and Control Tower's
 * proactive controls; returns what synth threw, if anything.
 */
export function synthWithNag(app: App): unknown {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new ControlTowerChecks(app));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  // cdk-nag's EventBusOpenAccess rule reads CfnEventBusPolicy#principal, which jsii reports as
  // deprecated; the read is the rule's, not ours, so its notice is kept out of the output.
  const deprecated = process.env.JSII_DEPRECATED;
  process.env.JSII_DEPRECATED = 'quiet';
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    if (deprecated === undefined) delete process.env.JSII_DEPRECATED;
    else process.env.JSII_DEPRECATED = deprecated;
    stderr.mockRestore();
    consoleError.mockRestore();
  }
}

/**
 * The error annotations on a stack: what `cdk synth` prints, one line each, before it fails
 * (bad props are reported so, not thrown).
 */
export function synthErrors(stack: Stack): string[] {
  return Annotations.fromStack(stack)
    .findError('*', Match.anyValue())
    .map((m) => String(m.entry.data));
}
