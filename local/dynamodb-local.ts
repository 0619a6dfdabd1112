/**
 * Runs AWS's own DynamoDB Local (the jar inside the npm package
 * `amplify-dynamodb-simulator`) as a child process the caller owns: start it on a
 * loopback port, wait until it answers a real ListTables call, stop it, and never
 * leave an orphan JVM behind. The integration tests' global setup and the offline
 * runtime (`npm start`) both use it.
 *
 * Orphan protection, and its limits:
 * - `stop()` sends SIGTERM, then SIGKILL after a grace period, and resolves once the
 *   process has exited.
 * - While a JVM is running, handlers on the parent's `exit`, SIGINT and SIGTERM kill it.
 *   The signal handlers re-raise the signal when nothing else listens for it, so the
 *   parent still exits the way it would have.
 * - SIGKILL of the parent cannot be caught. For that case the loopback launcher (below)
 *   watches its stdin pipe and exits when the parent's end closes. The plain-jar
 *   fallback has no such guard.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { GSI1, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/table-design';
import { findJava } from './java';

/** DynamoDB Local did not start, or did not stop. */
export class DynamoDbLocalError extends Error {
  override readonly name: string = 'DynamoDbLocalError';
}

/** The options contradict each other or name something that does not exist. */
export class DynamoDbLocalOptionsError extends DynamoDbLocalError {
  override readonly name = 'DynamoDbLocalOptionsError';
}

/**
 * JIT flags for a short-lived DynamoDB Local: C1 only, which boots about 0.5 s sooner and is
 * plenty for a test database.
 */
export const FAST_BOOT_JVM_ARGS: readonly string[] = ['-XX:TieredStopAtLevel=1'];

/**
 * JIT flags for a DynamoDB Local that serves for minutes: the JVM's full tiered compilation.
 * Once warm it runs a 99-item TransactWriteItems (a POST issues chunk) in about half the time
 * C1 code takes (29 against 55 ms on 2 vCPU), and boots about 0.7 s later.
 */
export const STEADY_STATE_JVM_ARGS: readonly string[] = [];

export interface DynamoDbLocalOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Keep every table in memory only. @default true */
  inMemory?: boolean;
  /** Directory for the database file; required with `inMemory: false`, refused otherwise. @default undefined */
  dbPath?: string;
  /**
   * One database for every access key and region. Without it DynamoDB Local keeps a
   * separate set of tables per credential and region, so a Lambda worker and the AWS
   * CLI with other dummy credentials would not see each other's tables.
   * @default true
   */
  sharedDb?: boolean;
  /** Receives every line the JVM prints. @default undefined (lines are only kept for errors) */
  log?: (line: string) => void;
  /** How long to wait for the first successful ListTables. @default 20_000 */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL. @default 5_000 */
  stopGraceMs?: number;
  /** The java executable. @default 'java' */
  javaCommand?: string;
  /** The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib. @default the one in amplify-dynamodb-simulator */
  emulatorDir?: string;
  /**
   * Extra JVM flags: {@link FAST_BOOT_JVM_ARGS} for a short-lived database (tests), or
   * {@link STEADY_STATE_JVM_ARGS} for one that serves for minutes (`npm start`, the benches).
   * @default FAST_BOOT_JVM_ARGS
   */
  jvmArgs?: readonly string[];
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Milliseconds from spawning the JVM to the first answered ListTables. */
  readonly startupMs: number;
  /**
   * True when the server is bound to 127.0.0.1 only. False when this Java lacks the
   * `jdk.compiler` module needed by the loopback launcher and the stock jar, which
   * binds every interface, ran instead.
   */
  readonly loopbackOnly: boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the JVM has exited. Idempotent. */
  stop(): Promise<void>;
}

const STDERR_TAIL_LINES = 30;
const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;
const KILL_WAIT_MS = 5_000;
const PORT_ATTEMPTS = 3;

/**
 * DynamoDB Local has no option for its bind address: Jetty listens on every interface.
 * This launcher, run in Java's single-file source mode (which needs the jdk.compiler
 * module), builds the stock server, points its connector at 127.0.0.1, and starts it.
 * It also exits when stdin reaches EOF, which happens when the Node parent dies, even
 * by SIGKILL.
 */
const LOOPBACK_LAUNCHER_SOURCE = `
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDbLocal {
  public static void main(String[] args) {
    try {
      DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
      try {
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        for (Connector connector : ((Server) field.get(proxy)).getConnectors()) {
          ((ServerConnector) connector).setHost("127.0.0.1");
        }
      } catch (ReflectiveOperationException | ClassCastException e) {
        System.err.println("WARNING: could not bind DynamoDB Local to 127.0.0.1, using every interface: " + e);
      }
      proxy.start();
    } catch (Throwable e) {
      System.err.println("DynamoDB Local failed to start: " + e);
      System.exit(1);
    }
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {}
      } catch (Exception ignored) {
      }
      System.exit(0);
    }, "parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }
}
`;

/**
 * Starts DynamoDB Local and resolves once it answers ListTables.
 *
 * @throws JavaMissingError when Java 17+ is not installed
 * @throws DynamoDbLocalOptionsError for contradictory options or a missing jar
 * @throws DynamoDbLocalError when the JVM exits early or does not answer in time; the
 *   message carries its last output lines
 * @example
 * const ddb = await startDynamoDbLocal({ port: 0 });
 * const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1' });
 * await createTableFromDesign(client, 'master-orchestrator-local');
 * await ddb.stop();
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const {
    port: requestedPort = 0,
    inMemory = true,
    dbPath,
    sharedDb = true,
    log,
    startTimeoutMs = 20_000,
    stopGraceMs = 5_000,
    javaCommand = 'java',
    emulatorDir = defaultEmulatorDir(),
    jvmArgs = FAST_BOOT_JVM_ARGS,
  } = options;

  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65_535) {
    throw new DynamoDbLocalOptionsError(`port must be an integer from 0 to 65535, got ${requestedPort}`);
  }
  if (inMemory && dbPath !== undefined) {
    throw new DynamoDbLocalOptionsError('dbPath needs inMemory: false; DynamoDB Local refuses both at once');
  }
  if (!inMemory && dbPath === undefined) {
    throw new DynamoDbLocalOptionsError('inMemory: false needs a dbPath for the database file');
  }
  if (dbPath !== undefined && !isDirectory(dbPath)) {
    throw new DynamoDbLocalOptionsError(`dbPath ${dbPath} is not an existing directory`);
  }
  const jar = join(emulatorDir, 'DynamoDBLocal.jar');
  const lib = join(emulatorDir, 'DynamoDBLocal_lib');
  if (!existsSync(jar) || !isDirectory(lib)) {
    throw new DynamoDbLocalOptionsError(
      `DynamoDB Local is not at ${emulatorDir} (want DynamoDBLocal.jar and DynamoDBLocal_lib); run npm ci`,
    );
  }

  findJava({ command: javaCommand });
  const loopbackOnly = hasCompilerModule(javaCommand);
  if (!loopbackOnly) {
    log?.('WARNING: this Java has no jdk.compiler module, so DynamoDB Local listens on every interface');
  }
  // A private (0700) temp dir per start: a predictable shared path would let another
  // local user plant the source this process runs. Java reads it only while booting.
  const launcherDir = loopbackOnly ? mkdtempSync(join(tmpdir(), 'dynamodb-local-')) : undefined;
  const launcherArgs = launcherDir
    ? ['-cp', [jar, join(lib, '*')].join(pathSeparator()), writeLauncher(launcherDir)]
    : ['-jar', jar];

  try {
    for (let attempt = 1; ; attempt++) {
      const port = requestedPort === 0 ? await pickFreePort() : requestedPort;
      const args = [
        ...jvmArgs,
        `-Djava.library.path=${lib}`,
        ...launcherArgs,
        '-port',
        String(port),
        ...(dbPath === undefined ? ['-inMemory'] : ['-dbPath', resolvePath(dbPath)]),
        ...(sharedDb ? ['-sharedDb'] : []),
        '-disableTelemetry',
      ];
      try {
        return await spawnAndWait(javaCommand, args, {
          cwd: emulatorDir,
          port,
          log,
          startTimeoutMs,
          stopGraceMs,
          loopbackOnly,
        });
      } catch (error) {
        // A free port can be taken between closing the probe and the JVM binding it.
        const retry = requestedPort === 0 && attempt < PORT_ATTEMPTS && error instanceof PortInUseError;
        if (!retry) throw error;
      }
    }
  } finally {
    if (launcherDir) rmSync(launcherDir, { recursive: true, force: true });
  }
}

/** The JVM could not bind its port: something else holds it. */
export class PortInUseError extends DynamoDbLocalError {
  override readonly name = 'PortInUseError';
}

interface LaunchSettings {
  cwd: string;
  port: number;
  log: ((line: string) => void) | undefined;
  startTimeoutMs: number;
  stopGraceMs: number;
  loopbackOnly: boolean;
}

async function spawnAndWait(
  command: string,
  args: string[],
  settings: LaunchSettings,
): Promise<DynamoDbLocal> {
  const { cwd, port, log, startTimeoutMs, stopGraceMs, loopbackOnly } = settings;
  const startedAt = performance.now();
  const child = spawn(command, args, {
    cwd,
    detached: false,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  const tail: string[] = [];
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
    log?.(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', remember);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', remember);
  // The watchdog reads stdin; an EPIPE after the JVM exits is expected and harmless.
  child.stdin?.on('error', () => {});

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      untrack(child);
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      // 'exit' may never come when the spawn itself failed.
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        untrack(child);
        resolve();
      }
    });
  });
  track(child);

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (exitInfo) return;
    child.kill('SIGTERM');
    if (await settlesWithin(exited, stopGraceMs)) return;
    child.kill('SIGKILL');
    if (await settlesWithin(exited, KILL_WAIT_MS)) return;
    throw new DynamoDbLocalError(`DynamoDB Local (pid ${child.pid}) did not exit after SIGKILL`);
  };

  try {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (exitInfo) {
        const output = tail.join('\n');
        const how = spawnError ? spawnError.message : `exit code ${exitInfo.code}, signal ${exitInfo.signal}`;
        const message = `DynamoDB Local exited before it was ready (${how}). Last output:\n${output}`;
        if (/BindException|Address already in use|Failed to bind/i.test(output))
          throw new PortInUseError(message);
        throw new DynamoDbLocalError(message, spawnError ? { cause: spawnError } : undefined);
      }
      // The race keeps an exit during a slow probe from waiting out the probe's timeout;
      // the abort then closes the probe's socket.
      const probe = new AbortController();
      const ready = await Promise.race([answersListTables(port, probe.signal), exited.then(() => false)]);
      probe.abort();
      if (ready) break;
      if (Date.now() >= deadline) {
        throw new DynamoDbLocalError(
          `DynamoDB Local did not answer ListTables on ${endpoint} within ${startTimeoutMs} ms. Last output:\n${tail.join('\n')}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }

  const pid = child.pid;
  if (pid === undefined) throw new DynamoDbLocalError('DynamoDB Local started without a pid');
  return { endpoint, port, pid, startupMs: Math.round(performance.now() - startedAt), loopbackOnly, stop };
}

/**
 * Creates the single table exactly as functions/shared/table-design.ts describes it:
 * string keys PK and SK, the sparse GSI1 on GSI1PK/GSI1SK projecting ALL, on-demand
 * billing, and TTL on {@link TTL_ATTRIBUTE}. Waits until the table and its index are
 * ACTIVE. An existing table of that name is reused, so a persistent dbPath survives
 * restarts.
 *
 * PITR and encryption, which the CDK table turns on, are not set: DynamoDB Local does
 * not implement them.
 *
 * @example
 * await createTableFromDesign(new DynamoDBClient({ endpoint: ddb.endpoint }), 'master-orchestrator-it');
 */
export async function createTableFromDesign(
  client: DynamoDBClient,
  tableName: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const { timeoutMs = 30_000 } = options;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
          { AttributeName: GSI1.partitionKey, AttributeType: 'S' },
          { AttributeName: GSI1.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: GSI1.indexName,
            KeySchema: [
              { AttributeName: GSI1.partitionKey, KeyType: 'HASH' },
              { AttributeName: GSI1.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === 'ACTIVE',
    );
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) break;
    if (Date.now() >= deadline) {
      throw new DynamoDbLocalError(`table ${tableName} was not ACTIVE within ${timeoutMs} ms`);
    }
    await sleep(POLL_INTERVAL_MS);
  }

  const { TimeToLiveDescription } = await client.send(
    new DescribeTimeToLiveCommand({ TableName: tableName }),
  );
  const ttlOn =
    TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED' ||
    TimeToLiveDescription?.TimeToLiveStatus === 'ENABLING';
  if (!ttlOn) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  }
}

// ---------------------------------------------------------------------------
// Child-process bookkeeping: kill every live JVM when the parent goes away.

const liveChildren = new Set<ChildProcess>();
let hooksInstalled = false;

function track(child: ChildProcess): void {
  liveChildren.add(child);
  if (hooksInstalled) return;
  process.on('exit', killAllOnExit);
  process.on('SIGINT', killAllOnSignal);
  process.on('SIGTERM', killAllOnSignal);
  hooksInstalled = true;
}

function untrack(child: ChildProcess): void {
  liveChildren.delete(child);
  if (liveChildren.size === 0) uninstallHooks();
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  process.off('exit', killAllOnExit);
  process.off('SIGINT', killAllOnSignal);
  process.off('SIGTERM', killAllOnSignal);
  hooksInstalled = false;
}

/** 'exit' handlers must be synchronous, so there is no grace period here. */
function killAllOnExit(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

function killAllOnSignal(signal: NodeJS.Signals): void {
  for (const child of liveChildren) child.kill('SIGTERM');
  uninstallHooks();
  // Listening for a signal cancels Node's default action; restore it unless someone
  // else (the offline runtime's own shutdown) has taken charge of the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

// ---------------------------------------------------------------------------
// Small helpers.

/**
 * One real DynamoDB ListTables call over plain node:http. DynamoDB Local wants a
 * SigV4-shaped Authorization header but does not verify the signature. node:http rather
 * than the SDK because an aborted SDK request can leave its socket open, and a probe
 * must never outlive its timeout. The reply must be DynamoDB's, not just any server's.
 */
function answersListTables(port: number, signal: AbortSignal): Promise<boolean> {
  const body = '{"Limit":1}';
  return new Promise((resolve) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        signal,
        timeout: PROBE_TIMEOUT_MS,
        headers: {
          'Content-Type': 'application/x-amz-json-1.0',
          'Content-Length': Buffer.byteLength(body),
          'X-Amz-Target': 'DynamoDB_20120810.ListTables',
          'X-Amz-Date': '20000101T000000Z',
          Authorization:
            'AWS4-HMAC-SHA256 Credential=local/20000101/us-east-1/dynamodb/aws4_request, ' +
            'SignedHeaders=host;x-amz-date;x-amz-target, Signature=0',
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            resolve(
              response.statusCode === 200 && Array.isArray((parsed as { TableNames?: unknown }).TableNames),
            );
          } catch {
            resolve(false);
          }
        });
        response.on('error', () => resolve(false));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.on('close', () => resolve(false));
    request.end(body);
  });
}

function defaultEmulatorDir(): string {
  return join(dirname(require.resolve('amplify-dynamodb-simulator/package.json')), 'emulator');
}

const compilerModuleByCommand = new Map<string, boolean>();

/** Single-file source mode needs jdk.compiler, which JDKs and Debian's JRE have but jlink'd JREs may not. */
function hasCompilerModule(javaCommand: string): boolean {
  const known = compilerModuleByCommand.get(javaCommand);
  if (known !== undefined) return known;
  const result = spawnSync(javaCommand, ['--list-modules'], {
    encoding: 'utf8',
    timeout: 10_000,
    windowsHide: true,
  });
  const found = result.status === 0 && /^jdk\.compiler@/m.test(result.stdout ?? '');
  compilerModuleByCommand.set(javaCommand, found);
  return found;
}

function writeLauncher(dir: string): string {
  const file = join(dir, 'LoopbackDynamoDbLocal.java');
  writeFileSync(file, LOOPBACK_LAUNCHER_SOURCE, { mode: 0o600 });
  return file;
}

/** Binds port 0 on 127.0.0.1, reads the port the OS chose, and releases it. */
export async function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((error) => (error || port === 0 ? reject(error ?? new Error('no port')) : resolve(port)));
    });
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function pathSeparator(): string {
  return process.platform === 'win32' ? ';' : ':';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when the promise settles within `ms`; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
