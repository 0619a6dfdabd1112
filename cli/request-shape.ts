/**
 * `submit <file>` takes either request the API starts work from; which one a document is
 * follows from its top-level keys (C4), and the API validates the rest.
 */
import { UsageError } from './errors';

export type SubmitRoute = 'issues' | 'workflows';

/**
 * `issues` for an IssueTriageRequest (`detected_issues`), `workflows` for a
 * RecoveryWorkflowRequest (`recovery_plan`).
 * @throws UsageError for anything else.
 * @example
 * detectRequestRoute({ detected_issues: [] }); // 'issues'
 */
export function detectRequestRoute(document: unknown, file = 'the file'): SubmitRoute {
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw new UsageError(`${file} is not a JSON object`);
  const hasIssues = 'detected_issues' in document;
  const hasPlan = 'recovery_plan' in document;
  if (hasIssues && hasPlan)
    throw new UsageError(`${file} has both detected_issues and recovery_plan: submit one request at a time`);
  if (hasIssues) return 'issues';
  if (hasPlan) return 'workflows';
  throw new UsageError(
    `${file} is neither an IssueTriageRequest (detected_issues) nor a RecoveryWorkflowRequest (recovery_plan)`,
  );
}
