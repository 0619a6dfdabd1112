/**
 * Where a request goes: the execute-api target in the URL, then the resource and method
 * of the API's tree that serve it.
 *
 * Matching follows API Gateway: trailing and repeated slashes are ignored, and at each
 * level a literal path part beats `{param}`, which beats `{proxy+}` (greedy, one or more
 * segments). A request whose path matches a resource without its method (nor ANY) tries
 * the less specific siblings before giving up, as LocalStack does. Path parameter values
 * stay percent-encoded, as REST APIs deliver them.
 */
import { type MethodState, type ResourceState, type RestApiState, resourcePathOf } from './model';

/** LocalStack's no-DNS form: `/_aws/execute-api/<apiId>/<stage>/<path>`. */
export const EXECUTE_API_PREFIX = '/_aws/execute-api/';

export interface ExecuteApiTarget {
  readonly apiId: string;
  /** '' when the URL has none. */
  readonly stage: string;
  /** The path after the stage, as received (percent-encoded), starting with `/`. */
  readonly path: string;
}

export interface RouteMatch {
  readonly resource: ResourceState;
  /** e.g. `/api/orchestrator/agents/{id}`. */
  readonly resourcePath: string;
  readonly method: MethodState;
  /** Null when the resource path has none, as in the proxy event. */
  readonly pathParameters: Readonly<Record<string, string>> | null;
}

/**
 * The API, stage and path a `/_aws/execute-api/...` URL names.
 * @example
 * parseExecuteApiPath('/_aws/execute-api/abc123defg/v1/api/orchestrator/health');
 * // → { apiId: 'abc123defg', stage: 'v1', path: '/api/orchestrator/health' }
 */
export function parseExecuteApiPath(path: string): ExecuteApiTarget | undefined {
  if (!path.startsWith(EXECUTE_API_PREFIX)) return undefined;
  const rest = path.slice(EXECUTE_API_PREFIX.length);
  const [apiId = '', stage = '', ...segments] = rest.split('/');
  if (!apiId) return undefined;
  return { apiId, stage, path: `/${segments.join('/')}` };
}

/** The resource and method for `httpMethod` on `path`, or undefined (API Gateway's 403 Missing Authentication Token). */
export function matchRoute(api: RestApiState, httpMethod: string, path: string): RouteMatch | undefined {
  const segments = path.split('/').filter((segment) => segment !== '');
  const tree = treeOf(api);
  const root = api.resources.get(api.rootResourceId);
  if (!root) return undefined;
  const found = matchFrom(root, segments, 0, tree, httpMethod.toUpperCase(), {});
  if (!found) return undefined;
  const resourcePath = resourcePathOf(api, found.resource.id);
  return {
    resource: found.resource,
    resourcePath,
    method: found.method,
    pathParameters: Object.keys(found.parameters).length === 0 ? null : found.parameters,
  };
}

interface Tree {
  readonly version: number;
  /** Parent id → children, literal parts first, then `{param}`, then `{greedy+}`. */
  readonly children: ReadonlyMap<string, readonly ResourceState[]>;
}

const trees = new WeakMap<RestApiState, Tree>();

function treeOf(api: RestApiState): Tree {
  const cached = trees.get(api);
  if (cached && cached.version === api.version) return cached;
  const children = new Map<string, ResourceState[]>();
  for (const resource of api.resources.values()) {
    if (resource.parentId === undefined) continue;
    const siblings = children.get(resource.parentId) ?? [];
    siblings.push(resource);
    children.set(resource.parentId, siblings);
  }
  for (const siblings of children.values()) siblings.sort((a, b) => rank(a.pathPart) - rank(b.pathPart));
  const tree = { version: api.version, children };
  trees.set(api, tree);
  return tree;
}

function rank(pathPart: string): number {
  if (/^\{.+\+\}$/.test(pathPart)) return 2;
  if (/^\{.+\}$/.test(pathPart)) return 1;
  return 0;
}

function matchFrom(
  resource: ResourceState,
  segments: readonly string[],
  index: number,
  tree: Tree,
  httpMethod: string,
  parameters: Readonly<Record<string, string>>,
): { resource: ResourceState; method: MethodState; parameters: Record<string, string> } | undefined {
  if (index === segments.length) {
    const method = resource.methods.get(httpMethod) ?? resource.methods.get('ANY');
    return method ? { resource, method, parameters: { ...parameters } } : undefined;
  }
  const segment = segments[index] as string;
  for (const child of tree.children.get(resource.id) ?? []) {
    const kind = rank(child.pathPart);
    if (kind === 2) {
      const name = child.pathPart.slice(1, -2);
      const method = child.methods.get(httpMethod) ?? child.methods.get('ANY');
      if (method)
        return {
          resource: child,
          method,
          parameters: { ...parameters, [name]: segments.slice(index).join('/') },
        };
      continue;
    }
    if (kind === 0 && child.pathPart !== segment && child.pathPart !== safeDecode(segment)) continue;
    const next = kind === 1 ? { ...parameters, [child.pathPart.slice(1, -1)]: segment } : parameters;
    const found = matchFrom(child, segments, index + 1, tree, httpMethod, next);
    if (found) return found;
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
