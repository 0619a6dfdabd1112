/**
 * What every command runs with: where output goes and how (JSON, colours, TTY), and the
 * target, its AWS clients, API client and token, all resolved lazily from the options.
 */
import { ROLES, type Role } from '#shared/routes';
import { ApiClient } from './api';
import { UsageError } from './errors';
import { type Palette, palette } from './format';
import {
  type AwsClients,
  type AwsEnvironment,
  AwsClients as Clients,
  mintToken,
  readOutputs,
  type TargetOutputs,
} from './target';

/** The CLI's environment, read once in main. */
export interface CliEnvironment {
  readonly token?: string;
  readonly aws: AwsEnvironment;
  readonly color: boolean;
  readonly isTTY: boolean;
}

export interface Output {
  readonly json: boolean;
  readonly isTTY: boolean;
  readonly colors: Palette;
  out(text: string): void;
  err(text: string): void;
  /** Writes one JSON document (or one JSON line) to stdout. */
  document(value: unknown): void;
  readonly stdout: NodeJS.WritableStream;
}

/** Options every target command takes. */
export interface CommonOptions {
  readonly outputs: string;
  readonly token?: string;
  readonly role?: string;
  readonly json?: boolean;
}

/** Subject of the tokens the CLI signs for its own calls. */
export const CLI_SUBJECT = 'orchestrator-cli';
const AUTO_TOKEN_TTL_SECONDS = 900;

export function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value))
    throw new UsageError(`unknown role "${value}": use one of ${ROLES.join(', ')}`);
  return value as Role;
}

export class Context {
  #outputs?: TargetOutputs;
  #aws?: AwsClients;
  #token?: Promise<string>;
  readonly output: Output;

  constructor(
    readonly options: CommonOptions,
    readonly env: CliEnvironment,
    stdout: NodeJS.WritableStream,
    stderr: NodeJS.WritableStream,
    /** The role a token is minted with when --role is not given. */
    readonly defaultRole: Role,
  ) {
    const json = options.json === true;
    this.output = {
      json,
      isTTY: env.isTTY,
      colors: palette(env.color && !json),
      stdout,
      out: (text) => stdout.write(`${text}\n`),
      err: (text) => stderr.write(`${text}\n`),
      document: (value) => stdout.write(`${json ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`),
    };
  }

  get outputs(): TargetOutputs {
    this.#outputs ??= readOutputs(this.options.outputs);
    return this.#outputs;
  }

  get aws(): AwsClients {
    this.#aws ??= new Clients(this.outputs, this.env.aws);
    return this.#aws;
  }

  /** --token, else ORCHESTRATOR_TOKEN, else one signed with the target's key for --role. */
  token = (): Promise<string> => {
    const given = this.options.token ?? this.env.token;
    if (given) return Promise.resolve(given);
    const role = this.options.role === undefined ? this.defaultRole : parseRole(this.options.role);
    this.#token ??= mintToken(this.aws, { sub: CLI_SUBJECT, role, ttlSeconds: AUTO_TOKEN_TTL_SECONDS });
    return this.#token;
  };

  get api(): ApiClient {
    return new ApiClient(this.outputs.RestApiUrl, this.token);
  }

  close(): void {
    this.#aws?.destroy();
  }
}
