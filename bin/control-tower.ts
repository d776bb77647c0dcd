import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  CfnResource,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPluginBeta1,
  type PolicyValidationPluginReportBeta1,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * AWS Control Tower's proactive controls (the cfn-guard rules shipped in
 * @cdklabs/cdk-validator-cfnguard) as a policy-validation plugin beside cdk-nag. A finding is
 * dropped only where the construct, or one of its scopes, acknowledged that control by its id
 * (`Validations.of(x).acknowledge({ id: 'CT.LAMBDA.PR.3', reason })`), so every exception is in
 * the source with its reason, as cdk-nag's are.
 */
export class ControlTowerChecks implements IPolicyValidationPluginBeta1 {
  public readonly name = 'control-tower-proactive-controls';
  private readonly guard = new CfnGuardValidator();

  public constructor(private readonly root: IConstruct) {}

  public validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.guard.validate(context);
    const acknowledged = acknowledgementsByLogicalId(this.root);
    const violations = report.violations
      .map((v) => {
        const control = /\[(CT\.[A-Z0-9.]+)\]/.exec(v.description)?.[1] ?? v.ruleName;
        return { ...v, violatingResources: v.violatingResources.filter((r) => !acknowledged.get(r.resourceLogicalId)?.has(control)) };
      })
      .filter((v) => v.violatingResources.length > 0);
    return { ...report, success: violations.length === 0, violations };
  }
}

/** The rule ids acknowledged on each resource or any of its scopes, by the resource's logical id. */
function acknowledgementsByLogicalId(root: IConstruct): Map<string, Set<string>> {
  const byId = new Map<string, Set<string>>();
  for (const construct of root.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const ids = new Set<string>();
    for (let scope: IConstruct | undefined = construct; scope; scope = scope.node.scope) {
      for (const entry of scope.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const key of Object.keys(entry.data as Record<string, string>)) ids.add(key.slice(key.lastIndexOf(':') + 1));
      }
    }
    byId.set(Stack.of(construct).resolve(construct.logicalId) as string, ids);
  }
  return byId;
}
