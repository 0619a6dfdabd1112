/**
 * `orchestrator`: the command line of the Master Orchestrator (contract C6). Wires commander
 * to the commands, reads the environment once, and turns every failure into one stderr line
 * and an exit code (see errors.ts and README.md).
 */
import { Command, CommanderError, Option } from 'commander';
import type { Role } from '#shared/routes';
import { ROLES } from '#shared/routes';
import * as commands from './commands';
import { type CliEnvironment, type CommonOptions, Context } from './context';
import { EXIT, reportFor } from './errors';
import { EXECUTION_STATUSES } from './executions';
import { colorEnabled } from './format';
import { DEFAULT_OUTPUTS_FILE } from './target';

const EXIT_CODES_HELP = `
Target: --outputs <file> (default ${DEFAULT_OUTPUTS_FILE}); AWS calls use the SDK's usual settings
(AWS_ENDPOINT_URL, AWS_REGION, credentials); API calls use --token, ORCHESTRATOR_TOKEN, or a token
signed with the target's key for --role.

Exit codes:
  0  done (watch: the workflow SUCCEEDED)
  1  watch: the workflow ended FAILED, ROLLED_BACK, ROLLBACK_FAILED or CANCELLED
  2  usage: bad command, option or argument, or an input file missing or not a request
  3  target: outputs file unreadable, API or AWS unreachable, no credentials
  4  watch --timeout ran out
  5  the API or AWS refused the request (the line carries its error code)
  6  throttled (429, e.g. BACKLOG_FULL): retry after the Retry-After given
`;

export interface MainStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
}

export function environmentFrom(env: NodeJS.ProcessEnv, isTTY: boolean): CliEnvironment {
  return {
    token: env.ORCHESTRATOR_TOKEN || undefined,
    aws: { endpoint: env.AWS_ENDPOINT_URL || undefined, region: env.AWS_REGION || undefined },
    color: colorEnabled(env, isTTY),
    isTTY,
  };
}

/** Builds the program; `run` receives each command's context and action. */
export function buildProgram(
  run: (
    options: CommonOptions,
    defaultRole: Role,
    action: (ctx: Context) => Promise<number>,
  ) => Promise<void>,
  streams: MainStreams,
): Command {
  const program = new Command('orchestrator')
    .description('Submit, watch and operate Master Orchestrator recovery workflows on any target.')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      outputError: (text, write) => write(`orchestrator: ${text.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError()
    .helpCommand(true)
    .addHelpText('after', EXIT_CODES_HELP);

  /** A subcommand with the options every target command has. */
  const targetCommand = (
    parent: Command,
    name: string,
    description: string,
    withRole = true,
    isDefault = false,
  ) => {
    const command = parent
      .command(name, { isDefault })
      .description(description)
      .option(
        '--outputs <file>',
        'outputs file of the target (cdk deploy --outputs-file shape)',
        DEFAULT_OUTPUTS_FILE,
      )
      .option('--token <jwt>', 'bearer token (default: $ORCHESTRATOR_TOKEN, else one signed for --role)')
      .option('--json', 'machine-readable JSON on stdout');
    if (withRole)
      command.option('--role <role>', `role of the token signed for this call (${ROLES.join('|')})`);
    return command;
  };
  /** Commander calls an action with its operands, then its options, then the command. */
  const act =
    (defaultRole: Role, action: (ctx: Context, ...args: never[]) => Promise<number>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const operands = args.slice(0, -2);
      const options = command.opts<CommonOptions & Record<string, unknown>>();
      await run(options, defaultRole, (ctx) => action(ctx, ...([...operands, options] as never[])));
    };

  targetCommand(
    program,
    'token',
    'sign a bearer token with the target key (read through Secrets Manager)',
    false,
  )
    .addOption(new Option('--role <role>', 'role the token carries').choices(ROLES).makeOptionMandatory())
    .option('--sub <subject>', 'subject of the token', 'orchestrator-cli')
    .option('--ttl <duration>', 'lifetime: seconds, or with s|m|h|d (max 30d)', '1h')
    .action(
      act('admin', (ctx, options: { role: Role; sub?: string; ttl?: string }) =>
        commands.tokenCommand(ctx, options),
      ),
    );

  targetCommand(
    program,
    'submit',
    'submit an IssueTriageRequest (POST issues) or a RecoveryWorkflowRequest (POST workflows)',
  )
    .argument('<file>', 'JSON request file, e.g. events/samples/issue-triage-request.json')
    .option('--idempotency-key <key>', 'Idempotency-Key header (default: a new UUID)')
    .option('--watch', 'follow the workflow to its end (exit code as for watch)')
    .option('--timeout <duration>', 'with --watch: give up after this long (exit 4)')
    .action(
      act(
        'operator',
        (ctx, file: string, options: { idempotencyKey?: string; watch?: boolean; timeout?: string }) =>
          commands.submitCommand(ctx, file, options),
      ),
    );

  targetCommand(program, 'watch', 'follow a workflow live to its end; exit 0 on SUCCEEDED, 1 otherwise')
    .argument('<workflow_id>')
    .option('--timeout <duration>', 'give up after this long: seconds or with s|m|h (exit 4)')
    .action(
      act('viewer', (ctx, id: string, options: { timeout?: string }) =>
        commands.watchCommand(ctx, id, options),
      ),
    );

  targetCommand(
    program,
    'status',
    'progress report: completion, active agents, resolved and blocking issues, ETA',
  )
    .argument('[workflow_id]', 'one workflow (default: every workflow at work)')
    .action(act('viewer', (ctx, id: string | undefined) => commands.statusCommand(ctx, id)));

  targetCommand(
    program,
    'agents',
    'registered agents with health, circuit state, load and last heartbeat',
  ).action(act('viewer', (ctx) => commands.agentsCommand(ctx)));

  const executions = program
    .command('executions')
    .description('recovery state machine executions, through the Step Functions API');
  targetCommand(executions, 'list', 'list executions, newest first (the default)', false, true)
    .addOption(
      new Option('--status <status>', 'only executions with this status').choices(EXECUTION_STATUSES),
    )
    .option('--max <n>', 'at most this many', '20')
    .action(
      act('viewer', (ctx, options: { status?: never; max: string }) =>
        commands.executionsListCommand(ctx, options),
      ),
    );
  targetCommand(executions, 'describe', 'one execution: status, dates, error, output', false)
    .argument('<execution>', 'execution ARN, or a workflow id (the execution named after it)')
    .action(act('viewer', (ctx, ref: string) => commands.executionsDescribeCommand(ctx, ref)));
  targetCommand(executions, 'history', 'states entered and exited, and failures, of one execution', false)
    .argument('<execution>', 'execution ARN, or a workflow id')
    .option('--all', 'every history event, not only states and failures')
    .action(
      act('viewer', (ctx, ref: string, options: { all?: boolean }) =>
        commands.executionsHistoryCommand(ctx, ref, options),
      ),
    );

  targetCommand(program, 'rollback', 'undo the steps of an ended workflow, latest change first')
    .argument('<workflow_id>')
    .requiredOption('--reason <text>', 'why; recorded on the RollbackResult')
    .option(
      '--failure-point <step_id>',
      'undo back to and including this step (default: every step that ran)',
    )
    .option('--watch', 'follow the rollback to its end')
    .option('--timeout <duration>', 'with --watch: give up after this long (exit 4)')
    .action(
      act(
        'operator',
        (
          ctx,
          id: string,
          options: { reason: string; failurePoint?: string; watch?: boolean; timeout?: string },
        ) => commands.rollbackCommand(ctx, id, options),
      ),
    );

  targetCommand(program, 'cancel', 'stop a pending or running workflow and undo what it ran')
    .argument('<workflow_id>')
    .option('--reason <text>', 'why (default: cancelled by an operator)')
    .option('--watch', 'follow it to its end')
    .option('--timeout <duration>', 'with --watch: give up after this long (exit 4)')
    .action(
      act('operator', (ctx, id: string, options: { reason?: string; watch?: boolean; timeout?: string }) =>
        commands.cancelCommand(ctx, id, options),
      ),
    );

  const dlq = program.command('dlq').description('dead letters of the agent and compensation queues');
  targetCommand(dlq, 'list', 'count and peek at dead letters without consuming them')
    .option('--queue <name>', 'one queue: an agent category, or compensation')
    .option('--limit <n>', 'messages to peek at per queue (1-10)')
    .action(
      act('operator', (ctx, options: { queue?: string; limit?: string }) =>
        commands.dlqListCommand(ctx, options),
      ),
    );
  targetCommand(dlq, 'redrive', 'move dead letters back to their agent queue (admin)')
    .option('--queue <name>', 'one queue (default: every redrivable queue with messages)')
    .action(act('admin', (ctx, options: { queue?: string }) => commands.dlqRedriveCommand(ctx, options)));
  return program;
}

/** Runs the CLI on `argv` (node, script, ...args) and returns the exit code. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  streams: MainStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const environment = environmentFrom(env, streams.stdout.isTTY === true);
  let exitCode: number = EXIT.OK;
  const program = buildProgram(async (options, defaultRole, action) => {
    const ctx = new Context(options, environment, streams.stdout, streams.stderr, defaultRole);
    try {
      exitCode = await action(ctx);
    } finally {
      ctx.close();
    }
  }, streams);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end through here too, with exit code 0; the rest are usage errors.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const { exitCode: code, lines } = reportFor(error);
    for (const line of lines) streams.stderr.write(`orchestrator: ${line}\n`);
    return code;
  }
  return exitCode;
}
