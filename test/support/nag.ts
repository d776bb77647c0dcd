import { type App, Validations } from 'aws-cdk-lib';
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
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    stderr.mockRestore();
    consoleError.mockRestore();
  }
}
