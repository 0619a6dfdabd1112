/**
 * A local Secrets Manager: the subset of the AWS JSON 1.1 API that the stack uses
 * (the JWT signing key, its rotation and the CLI's `token` command), so the real SDK v3
 * and the AWS CLI work against it unchanged.
 *
 * - {@link SecretsManagerEmulator} is the core. It is transport-agnostic:
 *   `handle(target, input)` takes the `X-Amz-Target` and the parsed body and returns a
 *   status and a body. The offline runtime's edge server calls it directly.
 * - {@link startSecretsManagerServer} puts it behind a small node:http server on 127.0.0.1.
 *
 * State lives in memory, for one region and account 000000000000. local/README.md lists
 * the known differences from AWS.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LOCAL_ACCOUNT_ID = '000000000000';

const AWSCURRENT = 'AWSCURRENT';
const AWSPREVIOUS = 'AWSPREVIOUS';
const TARGET_PREFIX = 'secretsmanager.';
/** AWS keeps about 100 versions per secret; beyond that it drops the unlabeled ones. */
const MAX_VERSIONS = 100;
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const LOWERCASE = 'abcdefghijklmnopqrstuvwxyz';
const UPPERCASE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ARN_SUFFIX_ALPHABET = LOWERCASE + UPPERCASE + DIGITS;

/** What `handle` returns: an HTTP status and the JSON body to send. */
export interface EmulatorResponse {
  status: number;
  body: unknown;
}

export interface SecretsManagerEmulatorOptions {
  /** Region written into ARNs. @default 'us-east-1' */
  region?: string;
  /** Milliseconds since the epoch; injectable for tests. @default Date.now */
  clock?: () => number;
}

interface Tag {
  Key: string;
  Value: string;
}

interface SecretVersion {
  readonly versionId: string;
  readonly secretString: string | undefined;
  /** Base64, exactly as it travels in JSON. */
  readonly secretBinary: string | undefined;
  readonly createdMs: number;
  readonly stages: Set<string>;
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  readonly description: string | undefined;
  readonly kmsKeyId: string | undefined;
  readonly tags: Tag[];
  readonly createdMs: number;
  lastChangedMs: number;
  lastAccessedMs: number | undefined;
  rotation: { lambdaArn: string | undefined; rules: Record<string, unknown> | undefined } | undefined;
  /** Insertion order is creation order. */
  readonly versions: Map<string, SecretVersion>;
}

/** An AWS-shaped error: `{"__type": type, "message": message}` with `status`. */
class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const notFound = (message = "Secrets Manager can't find the specified secret."): ServiceError =>
  new ServiceError('ResourceNotFoundException', message);
const invalidParameter = (message: string): ServiceError =>
  new ServiceError('InvalidParameterException', message);
const invalidRequest = (message: string): ServiceError =>
  new ServiceError('InvalidRequestException', message);
const validation = (message: string): ServiceError => new ServiceError('ValidationException', message);

type Input = Readonly<Record<string, unknown>>;
type Handler = (input: Input) => unknown;

/**
 * The in-memory Secrets Manager. Every operation answers with AWS's JSON field names;
 * dates are epoch seconds, as the JSON 1.1 protocol sends them.
 *
 * @example
 * const sm = new SecretsManagerEmulator();
 * sm.handle('secretsmanager.CreateSecret', { Name: 'jwt', SecretString: 's3cret' }); // { status: 200, body: { ARN, Name, VersionId } }
 * sm.handle('secretsmanager.GetSecretValue', { SecretId: 'nope' }); // { status: 400, body: { __type: 'ResourceNotFoundException', message } }
 */
export class SecretsManagerEmulator {
  private readonly secrets = new Map<string, Secret>();
  private readonly region: string;
  private readonly clock: () => number;
  private readonly operations: Readonly<Record<string, Handler>> = {
    CreateSecret: (input) => this.createSecret(input),
    GetSecretValue: (input) => this.getSecretValue(input),
    PutSecretValue: (input) => this.putSecretValue(input),
    DescribeSecret: (input) => this.describeSecret(input),
    UpdateSecretVersionStage: (input) => this.updateSecretVersionStage(input),
    GetRandomPassword: (input) => this.getRandomPassword(input),
    ListSecrets: (input) => this.listSecrets(input),
    RotateSecret: (input) => this.rotateSecret(input),
  };

  constructor(options: SecretsManagerEmulatorOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.clock = options.clock ?? Date.now;
  }

  /** The operation names `handle` serves, e.g. for the edge server's routing table. */
  static readonly operationNames = [
    'CreateSecret',
    'GetSecretValue',
    'PutSecretValue',
    'DescribeSecret',
    'UpdateSecretVersionStage',
    'GetRandomPassword',
    'ListSecrets',
    'RotateSecret',
  ] as const;

  /**
   * Runs one operation.
   *
   * @param target the `X-Amz-Target` header, e.g. `secretsmanager.GetSecretValue`
   * @param input the parsed JSON body
   */
  handle(target: string, input: unknown): EmulatorResponse {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    const known = target.startsWith(TARGET_PREFIX) && Object.hasOwn(this.operations, operation);
    const handler = known ? this.operations[operation] : undefined;
    try {
      if (!handler) {
        throw new ServiceError(
          'UnknownOperationException',
          `${operation || '(no X-Amz-Target)'} is not supported by the local Secrets Manager`,
        );
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new ServiceError('SerializationException', 'The request body must be a JSON object');
      }
      return { status: 200, body: handler(input as Input) };
    } catch (error) {
      if (error instanceof ServiceError) {
        return { status: error.status, body: { __type: error.type, message: error.message } };
      }
      return {
        status: 500,
        body: { __type: 'InternalServiceError', message: 'An error occurred on the server side.' },
      };
    }
  }

  // -------------------------------------------------------------------------
  // Operations

  private createSecret(input: Input): unknown {
    const name = requiredString(input, 'Name');
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw invalidParameter(
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const value = secretValue(input);
    const token = clientRequestToken(input);
    const existing = this.secrets.get(name);
    if (existing) {
      // A retried CreateSecret (same token, same value) is answered, not refused.
      const version = token === undefined ? undefined : existing.versions.get(token);
      if (version && sameValue(version, value)) {
        return { ARN: existing.arn, Name: existing.name, VersionId: version.versionId };
      }
      throw new ServiceError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }

    const now = this.clock();
    const secret: Secret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${LOCAL_ACCOUNT_ID}:secret:${name}-${randomSuffix()}`,
      description: optionalString(input, 'Description'),
      kmsKeyId: optionalString(input, 'KmsKeyId'),
      tags: tagList(input),
      createdMs: now,
      lastChangedMs: now,
      lastAccessedMs: undefined,
      rotation: undefined,
      versions: new Map(),
    };
    this.secrets.set(name, secret);
    if (value.secretString === undefined && value.secretBinary === undefined) {
      return { ARN: secret.arn, Name: secret.name };
    }
    const version = this.addVersion(secret, token ?? randomUUID(), value, [AWSCURRENT]);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId };
  }

  private getSecretValue(input: Input): unknown {
    const secret = this.find(requiredString(input, 'SecretId'));
    const versionId = optionalString(input, 'VersionId');
    const versionStage = optionalString(input, 'VersionStage');
    let version: SecretVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (!version || (versionStage !== undefined && !version.stages.has(versionStage))) {
        const stagePart = versionStage === undefined ? '' : ` and staging label: ${versionStage}`;
        throw notFound(
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}${stagePart}`,
        );
      }
    } else {
      const stage = versionStage ?? AWSCURRENT;
      version = versionWithStage(secret, stage);
      if (!version)
        throw notFound(`Secrets Manager can't find the specified secret value for staging label: ${stage}`);
    }
    // AWS records access to the day, not the instant.
    secret.lastAccessedMs = startOfUtcDay(this.clock());
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: epochSeconds(version.createdMs),
    };
  }

  private putSecretValue(input: Input): unknown {
    const secret = this.find(requiredString(input, 'SecretId'));
    const value = secretValue(input);
    if (value.secretString === undefined && value.secretBinary === undefined) {
      throw invalidParameter('You must provide either SecretString or SecretBinary.');
    }
    const stages = optionalStringList(input, 'VersionStages') ?? [AWSCURRENT];
    if (stages.length === 0 || stages.length > 20) {
      throw validation('VersionStages must hold between 1 and 20 staging labels.');
    }
    const versionId = clientRequestToken(input) ?? randomUUID();
    const existing = secret.versions.get(versionId);
    if (existing) {
      if (!sameValue(existing, value)) {
        throw new ServiceError(
          'ResourceExistsException',
          `You can't modify an existing version, you can only create a new version. VersionId: ${versionId}`,
        );
      }
      // Idempotent retry: nothing changes.
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: versionId,
        VersionStages: [...existing.stages],
      };
    }
    const version = this.addVersion(secret, versionId, value, stages);
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...version.stages] };
  }

  private describeSecret(input: Input): unknown {
    const secret = this.find(requiredString(input, 'SecretId'));
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...this.metadata(secret),
      VersionIdsToStages: versionsToStages(secret),
    };
  }

  private updateSecretVersionStage(input: Input): unknown {
    const secret = this.find(requiredString(input, 'SecretId'));
    const stage = requiredString(input, 'VersionStage');
    const moveTo = optionalString(input, 'MoveToVersionId');
    const removeFrom = optionalString(input, 'RemoveFromVersionId');
    const holder = versionWithStage(secret, stage);

    if (moveTo === undefined && removeFrom === undefined) {
      throw invalidParameter('You must specify MoveToVersionId, RemoveFromVersionId, or both.');
    }
    if (removeFrom !== undefined && holder?.versionId !== removeFrom) {
      throw invalidParameter(
        `The staging label ${stage} is not attached to version ${removeFrom}, so it can't be removed from it.`,
      );
    }

    if (moveTo === undefined) {
      if (stage === AWSCURRENT) {
        throw invalidParameter(
          `You can only move staging label ${AWSCURRENT} to a different secret version. It can't be completely removed.`,
        );
      }
      holder?.stages.delete(stage);
    } else {
      const target = secret.versions.get(moveTo);
      if (!target)
        throw notFound(`Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`);
      if (holder && holder !== target && removeFrom === undefined) {
        throw invalidParameter(
          `The staging label ${stage} is currently attached to version ${holder.versionId}. You must specify RemoveFromVersionId to move it.`,
        );
      }
      attachStage(secret, target, stage);
    }
    secret.lastChangedMs = this.clock();
    pruneVersions(secret);
    return { ARN: secret.arn, Name: secret.name };
  }

  private getRandomPassword(input: Input): unknown {
    const length = optionalInteger(input, 'PasswordLength') ?? 32;
    if (length < 1 || length > 4096) throw validation('PasswordLength must be between 1 and 4096.');
    const excluded = new Set(optionalString(input, 'ExcludeCharacters') ?? '');
    const keep = (chars: string): string => [...chars].filter((char) => !excluded.has(char)).join('');
    const classes = [
      optionalBoolean(input, 'ExcludeLowercase') ? '' : keep(LOWERCASE),
      optionalBoolean(input, 'ExcludeUppercase') ? '' : keep(UPPERCASE),
      optionalBoolean(input, 'ExcludeNumbers') ? '' : keep(DIGITS),
      optionalBoolean(input, 'ExcludePunctuation') ? '' : keep(PUNCTUATION),
    ].filter((chars) => chars.length > 0);
    const space = optionalBoolean(input, 'IncludeSpace') ? keep(' ') : '';
    const pool = classes.join('') + space;
    if (pool.length === 0)
      throw invalidParameter('The exclusions leave no characters to build a password from.');

    const requireEach = optionalBoolean(input, 'RequireEachIncludedType') ?? true;
    const chars: string[] = [];
    if (requireEach) {
      if (length < classes.length) {
        throw invalidParameter(
          `PasswordLength ${length} is too short to include each of the ${classes.length} required character types.`,
        );
      }
      for (const characterClass of classes) chars.push(pick(characterClass));
    }
    while (chars.length < length) chars.push(pick(pool));
    shuffle(chars);
    return { RandomPassword: chars.join('') };
  }

  private listSecrets(input: Input): unknown {
    const maxResults = optionalInteger(input, 'MaxResults') ?? 100;
    if (maxResults < 1 || maxResults > 100) throw validation('MaxResults must be between 1 and 100.');
    const offset = decodeNextToken(optionalString(input, 'NextToken'));
    const filters = filterList(input);
    const sortBy = optionalString(input, 'SortBy') ?? 'created-date';
    const sortOrder = optionalString(input, 'SortOrder') ?? 'asc';
    if (!['created-date', 'last-accessed-date', 'last-changed-date', 'name'].includes(sortBy)) {
      throw validation(`SortBy must be one of created-date, last-accessed-date, last-changed-date, name.`);
    }
    if (sortOrder !== 'asc' && sortOrder !== 'desc') throw validation('SortOrder must be asc or desc.');

    const sortKey = (secret: Secret): string | number =>
      sortBy === 'name'
        ? secret.name
        : sortBy === 'last-changed-date'
          ? secret.lastChangedMs
          : sortBy === 'last-accessed-date'
            ? (secret.lastAccessedMs ?? 0)
            : secret.createdMs;
    const matching = [...this.secrets.values()]
      .filter((secret) => filters.every((filter) => matchesFilter(secret, filter)))
      .sort((a, b) => {
        const [x, y] = [sortKey(a), sortKey(b)];
        const order = x < y ? -1 : x > y ? 1 : 0;
        return sortOrder === 'asc' ? order : -order;
      });
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + maxResults < matching.length ? encodeNextToken(offset + maxResults) : undefined;
    return {
      SecretList: page.map((secret) => ({
        ARN: secret.arn,
        Name: secret.name,
        ...this.metadata(secret),
        SecretVersionsToStages: versionsToStages(secret),
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  /**
   * Records the rotation configuration so DescribeSecret reports RotationEnabled, the
   * Lambda ARN and the rules. There is no Lambda to invoke here, so only
   * `RotateImmediately: false` is accepted; the caller drives the rotation steps itself.
   */
  private rotateSecret(input: Input): unknown {
    const secret = this.find(requiredString(input, 'SecretId'));
    if (optionalBoolean(input, 'RotateImmediately') !== false) {
      throw invalidRequest(
        'The local Secrets Manager cannot invoke a rotation Lambda: call RotateSecret with RotateImmediately=false ' +
          'and run the rotation steps (createSecret, setSecret, testSecret, finishSecret) yourself.',
      );
    }
    const lambdaArn = optionalString(input, 'RotationLambdaARN') ?? secret.rotation?.lambdaArn;
    const rules = input.RotationRules;
    if (rules !== undefined && (rules === null || typeof rules !== 'object' || Array.isArray(rules))) {
      throw validation('RotationRules must be an object.');
    }
    secret.rotation = {
      lambdaArn,
      rules: (rules as Record<string, unknown> | undefined) ?? secret.rotation?.rules,
    };
    secret.lastChangedMs = this.clock();
    return { ARN: secret.arn, Name: secret.name };
  }

  // -------------------------------------------------------------------------
  // Internals

  /** Finds a secret by name, full ARN, or partial ARN (the ARN without its 6-character suffix). */
  private find(secretId: string): Secret {
    const byName = this.secrets.get(secretId);
    if (byName) return byName;
    if (secretId.startsWith('arn:')) {
      for (const secret of this.secrets.values()) {
        if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
      }
    }
    throw notFound();
  }

  private addVersion(
    secret: Secret,
    versionId: string,
    value: SecretValue,
    stages: readonly string[],
  ): SecretVersion {
    const now = this.clock();
    const version: SecretVersion = { versionId, ...value, createdMs: now, stages: new Set() };
    secret.versions.set(versionId, version);
    for (const stage of stages) attachStage(secret, version, stage);
    secret.lastChangedMs = now;
    pruneVersions(secret);
    return version;
  }

  private metadata(secret: Secret): Record<string, unknown> {
    return {
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      // AWS leaves RotationEnabled out (null) for a secret never configured for rotation.
      ...(secret.rotation !== undefined ? { RotationEnabled: true } : {}),
      ...(secret.rotation?.lambdaArn ? { RotationLambdaARN: secret.rotation.lambdaArn } : {}),
      ...(secret.rotation?.rules ? { RotationRules: secret.rotation.rules } : {}),
      LastChangedDate: epochSeconds(secret.lastChangedMs),
      ...(secret.lastAccessedMs !== undefined
        ? { LastAccessedDate: epochSeconds(secret.lastAccessedMs) }
        : {}),
      ...(secret.tags.length > 0 ? { Tags: secret.tags } : {}),
      CreatedDate: epochSeconds(secret.createdMs),
    };
  }
}

// ---------------------------------------------------------------------------
// Staging labels

function versionWithStage(secret: Secret, stage: string): SecretVersion | undefined {
  for (const version of secret.versions.values()) if (version.stages.has(stage)) return version;
  return undefined;
}

/**
 * A label sits on one version at a time: attaching it removes it from the holder. Moving
 * AWSCURRENT also moves AWSPREVIOUS onto the version that AWSCURRENT left.
 */
function attachStage(secret: Secret, version: SecretVersion, stage: string): void {
  const holder = versionWithStage(secret, stage);
  if (holder === version) return;
  holder?.stages.delete(stage);
  version.stages.add(stage);
  if (stage === AWSCURRENT && holder) {
    versionWithStage(secret, AWSPREVIOUS)?.stages.delete(AWSPREVIOUS);
    holder.stages.add(AWSPREVIOUS);
  }
}

/** Drops the oldest unlabeled (deprecated) versions once a secret holds more than AWS keeps. */
function pruneVersions(secret: Secret): void {
  for (const [versionId, version] of secret.versions) {
    if (secret.versions.size <= MAX_VERSIONS) return;
    if (version.stages.size === 0) secret.versions.delete(versionId);
  }
}

function versionsToStages(secret: Secret): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const version of secret.versions.values()) {
    if (version.stages.size > 0) map[version.versionId] = [...version.stages];
  }
  return map;
}

// ---------------------------------------------------------------------------
// Input readers: AWS answers a wrong type or a broken length constraint with a
// ValidationException before the operation runs.

function requiredString(input: Input, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === '') {
    throw validation(
      `1 validation error detected: Value null at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function optionalString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`${key} must be a string.`);
  return value;
}

function optionalBoolean(input: Input, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw validation(`${key} must be a boolean.`);
  return value;
}

function optionalInteger(input: Input, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw validation(`${key} must be an integer.`);
  return value;
}

function optionalStringList(input: Input, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw validation(`${key} must be a list of strings.`);
  }
  return value as string[];
}

function clientRequestToken(input: Input): string | undefined {
  const token = optionalString(input, 'ClientRequestToken');
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    throw validation('ClientRequestToken must be between 32 and 64 characters long.');
  }
  return token;
}

interface SecretValue {
  secretString: string | undefined;
  secretBinary: string | undefined;
}

function secretValue(input: Input): SecretValue {
  const secretString = optionalString(input, 'SecretString');
  const secretBinary = optionalString(input, 'SecretBinary');
  if (secretString !== undefined && secretBinary !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (secretBinary !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(secretBinary)) {
    throw new ServiceError('SerializationException', 'SecretBinary must be base64-encoded.');
  }
  return { secretString, secretBinary };
}

function sameValue(version: SecretVersion, value: SecretValue): boolean {
  return version.secretString === value.secretString && version.secretBinary === value.secretBinary;
}

function tagList(input: Input): Tag[] {
  const tags = input.Tags;
  if (tags === undefined || tags === null) return [];
  const valid =
    Array.isArray(tags) &&
    tags.every(
      (tag) =>
        tag !== null &&
        typeof tag === 'object' &&
        typeof (tag as Record<string, unknown>).Key === 'string' &&
        typeof (tag as Record<string, unknown>).Value === 'string',
    );
  if (!valid) throw validation('Tags must be a list of {Key, Value} strings.');
  return (tags as Tag[]).map(({ Key, Value }) => ({ Key, Value }));
}

// ---------------------------------------------------------------------------
// ListSecrets filters and paging

interface Filter {
  key: string;
  values: string[];
}

const FILTER_KEYS = new Set([
  'name',
  'description',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
]);

function filterList(input: Input): Filter[] {
  const filters = input.Filters;
  if (filters === undefined || filters === null) return [];
  if (!Array.isArray(filters)) throw validation('Filters must be a list.');
  return filters.map((filter: unknown) => {
    const record = (filter ?? {}) as Record<string, unknown>;
    const key = record.Key;
    const values = record.Values;
    if (typeof key !== 'string' || !FILTER_KEYS.has(key)) {
      throw validation(`Filter Key must be one of ${[...FILTER_KEYS].join(', ')}.`);
    }
    if (!Array.isArray(values) || !values.every((value) => typeof value === 'string')) {
      throw validation('Filter Values must be a list of strings.');
    }
    return { key, values: values as string[] };
  });
}

/** Values within a filter are ORed; a leading `!` negates a value. Filters are ANDed by the caller. */
function matchesFilter(secret: Secret, filter: Filter): boolean {
  return filter.values.some((raw) => {
    const negated = raw.startsWith('!');
    const value = negated ? raw.slice(1) : raw;
    const hit = filterHit(secret, filter.key, value);
    return negated ? !hit : hit;
  });
}

function filterHit(secret: Secret, key: string, value: string): boolean {
  const prefixOf = (candidates: readonly (string | undefined)[], caseSensitive: boolean): boolean =>
    candidates.some(
      (candidate) =>
        candidate !== undefined &&
        (caseSensitive
          ? candidate.startsWith(value)
          : candidate.toLowerCase().startsWith(value.toLowerCase())),
    );
  switch (key) {
    case 'name':
      return prefixOf([secret.name], true);
    case 'description':
      return prefixOf([secret.description], false);
    case 'tag-key':
      return prefixOf(
        secret.tags.map((tag) => tag.Key),
        true,
      );
    case 'tag-value':
      return prefixOf(
        secret.tags.map((tag) => tag.Value),
        true,
      );
    case 'primary-region':
    case 'owning-service':
      // Local secrets are neither replicated nor owned by another service.
      return false;
    default: {
      // 'all': every word of the value must prefix-match some attribute, ignoring case.
      const words = [secret.name, secret.description, ...secret.tags.flatMap((tag) => [tag.Key, tag.Value])]
        .filter((text): text is string => text !== undefined)
        .flatMap((text) => text.toLowerCase().split(/[\s/_+=.@-]+/))
        .concat(secret.name.toLowerCase());
      return value
        .toLowerCase()
        .split(/\s+/)
        .filter(Boolean)
        .every((term) => words.some((word) => word.startsWith(term)));
    }
  }
}

function encodeNextToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64');
}

function decodeNextToken(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const offset = (parsed as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through to the error below
  }
  throw new ServiceError('InvalidNextTokenException', 'The NextToken value is invalid.');
}

// ---------------------------------------------------------------------------
// Small helpers

function pick(chars: string): string {
  return chars.charAt(randomInt(chars.length));
}

/** Fisher-Yates with a CSPRNG, so required characters do not sit at the front. */
function shuffle(items: string[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const held = items[i] as string;
    items[i] = items[j] as string;
    items[j] = held;
  }
}

function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += pick(ARN_SUFFIX_ALPHABET);
  return suffix;
}

function epochSeconds(ms: number): number {
  return ms / 1000;
}

function startOfUtcDay(ms: number): number {
  return ms - (ms % 86_400_000);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

// ---------------------------------------------------------------------------
// HTTP transport

/** AWS caps a secret at 64 KB; anything near a megabyte is not a real request. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface SecretsManagerServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** The emulator to serve; pass one to share state with the caller. @default a new one */
  emulator?: SecretsManagerEmulator;
}

export interface SecretsManagerServer {
  /** `http://127.0.0.1:<port>`, for `endpoint` or `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  readonly endpoint: string;
  readonly port: number;
  readonly emulator: SecretsManagerEmulator;
  /** Closes the listener and any kept-alive connections. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Serves a {@link SecretsManagerEmulator} over HTTP on 127.0.0.1, speaking AWS JSON 1.1:
 * POST with `X-Amz-Target: secretsmanager.<Operation>` and a JSON body. Signatures are
 * not checked.
 *
 * @example
 * const sm = await startSecretsManagerServer();
 * const client = new SecretsManagerClient({ endpoint: sm.endpoint, region: 'us-east-1' });
 * await sm.stop();
 */
export async function startSecretsManagerServer(
  options: SecretsManagerServerOptions = {},
): Promise<SecretsManagerServer> {
  const emulator = options.emulator ?? new SecretsManagerEmulator();
  const server = createServer((request, response) => {
    serve(emulator, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopped;
  };
  return { endpoint: `http://127.0.0.1:${port}`, port, emulator, stop };
}

function serve(emulator: SecretsManagerEmulator, request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  request.on('end', () => {
    if (tooLarge) {
      send(response, 413, {
        __type: 'RequestEntityTooLargeException',
        message: `The request body exceeds ${MAX_BODY_BYTES} bytes.`,
      });
      return;
    }
    const target = request.headers['x-amz-target'];
    const text = Buffer.concat(chunks).toString('utf8');
    let input: unknown;
    try {
      input = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      send(response, 400, {
        __type: 'SerializationException',
        message: 'The request body is not valid JSON.',
      });
      return;
    }
    const result = emulator.handle(typeof target === 'string' ? target : '', input);
    send(response, result.status, result.body);
  });
  request.on('error', () => response.destroy());
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(payload);
}
