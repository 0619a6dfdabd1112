/**
 * Typed access to a synthesized CloudFormation template for the infra tests.
 * Not a test file itself (Jest only collects `*.test.ts`).
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly DependsOn?: string[];
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { readonly Value: unknown; readonly Description?: string }>;
  readonly [key: string]: unknown;
}

export interface PolicyStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** An IAM statement and where it lives: a role's inline `Policies` or an AWS::IAM::Policy. */
export interface LocatedStatement {
  readonly policyLogicalId: string;
  /** Logical ids of the roles the statement applies to. */
  readonly roles: string[];
  readonly statement: PolicyStatement;
}

export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** The construct path CDK records on each resource, e.g. `MasterOrchestrator/RestApi/.../POST/Resource`. */
export function cdkPath(resource: CfnResource): string {
  return String(resource.Metadata?.['aws:cdk:path'] ?? '');
}

/** `{ Ref: X }` → X. */
export function refOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && 'Ref' in value ? String(value.Ref) : undefined;
}

/** `{ 'Fn::GetAtt': [X, attr] }` → X. */
export function getAttOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('Fn::GetAtt' in value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  return Array.isArray(getAtt) ? String(getAtt[0]) : undefined;
}

/** Every IAM statement in the template: role inline policies and AWS::IAM::Policy resources. */
export function allPolicyStatements(template: CfnTemplate): LocatedStatement[] {
  const located: LocatedStatement[] = [];
  for (const [logicalId, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const inline = (role.Properties?.Policies ?? []) as Array<{
      PolicyDocument: { Statement: PolicyStatement[] };
    }>;
    for (const policy of inline) {
      for (const statement of policy.PolicyDocument.Statement) {
        located.push({ policyLogicalId: logicalId, roles: [logicalId], statement });
      }
    }
  }
  for (const [logicalId, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    const roles = ((policy.Properties?.Roles ?? []) as unknown[]).map((role) => refOf(role) ?? '');
    const document = policy.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
    for (const statement of document.Statement)
      located.push({ policyLogicalId: logicalId, roles, statement });
  }
  return located;
}

/** Actions a role may take on any resource, from all its statements. */
export function actionsOf(statements: LocatedStatement[], roleLogicalId: string): string[] {
  return statements
    .filter((entry) => entry.roles.includes(roleLogicalId) && entry.statement.Effect === 'Allow')
    .flatMap((entry) => asArray(entry.statement.Action));
}

/**
 * The template with everything that changes when handler code or the CDK version
 * changes (and nothing else) replaced, so the snapshot shows real infrastructure
 * changes only: 64-hex asset hashes, and the CDK's own analytics resource.
 */
export function normalizeTemplate(template: CfnTemplate): unknown {
  const normalized = JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '[ASSET_HASH]')) as {
    Resources: Record<string, unknown>;
    Conditions?: Record<string, unknown>;
  };
  delete normalized.Resources.CDKMetadata;
  if (normalized.Conditions) {
    delete normalized.Conditions.CDKMetadataAvailable;
    if (Object.keys(normalized.Conditions).length === 0) delete normalized.Conditions;
  }
  return normalized;
}
