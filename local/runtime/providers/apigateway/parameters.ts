/**
 * Parameter mapping expressions, as in `ResponseParameters` of gateway and integration
 * responses: `'literal'`, `method.request.header.<name>`, `method.request.querystring.<name>`,
 * `method.request.path.<name>`, `stageVariables.<name>`, `context.<path>` and
 * `integration.response.header.<name>`.
 */

export interface ParameterSources {
  /** Header lookup, case-insensitive. */
  readonly header: (name: string) => string | undefined;
  readonly querystring: (name: string) => string | undefined;
  readonly path: Readonly<Record<string, string>>;
  readonly stageVariables: Readonly<Record<string, string>> | null;
  readonly context: Readonly<Record<string, unknown>>;
  readonly integrationHeader?: (name: string) => string | undefined;
}

/**
 * The value `expression` maps to, or undefined when its source is absent.
 * @example
 * resolveParameterValue("'*'", sources); // → '*'
 */
export function resolveParameterValue(expression: string, sources: ParameterSources): string | undefined {
  const literal = /^'(.*)'$/s.exec(expression);
  if (literal) return literal[1];
  const [, source, name] =
    /^(method\.request\.header|method\.request\.querystring|method\.request\.path|stageVariables|context|integration\.response\.header)\.(.+)$/.exec(
      expression,
    ) ?? [undefined, undefined, undefined];
  if (!source || !name) return undefined;
  switch (source) {
    case 'method.request.header':
      return sources.header(name);
    case 'method.request.querystring':
      return sources.querystring(name);
    case 'method.request.path':
      return sources.path[name];
    case 'stageVariables':
      return sources.stageVariables?.[name];
    case 'integration.response.header':
      return sources.integrationHeader?.(name);
    default:
      return contextValue(sources.context, name);
  }
}

function contextValue(context: Readonly<Record<string, unknown>>, path: string): string | undefined {
  let value: unknown = context;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
