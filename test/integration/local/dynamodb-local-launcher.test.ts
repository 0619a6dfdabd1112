/**
 * The DynamoDB Local launcher itself: Java detection, its own JVMs (separate from the
 * one global setup started), readiness, loopback binding, persistence and clean stops.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  createTableFromDesign,
  type DynamoDbLocal,
  DynamoDbLocalError,
  DynamoDbLocalOptionsError,
  startDynamoDbLocal,
} from '#local/dynamodb-local';
import { findJava, JavaMissingError } from '#local/java';

const credentials = { accessKeyId: 'other', secretAccessKey: 'other' };
/** One JVM boot takes about 2 s here; leave room for a slow CI machine. */
const JVM_TEST_TIMEOUT_MS = 30_000;

/** True when nothing with this pid is left (the JVM exited and was reaped). */
function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Resolves with the connection error code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

function firstExternalIpv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
}

describe('findJava', () => {
  it('finds the Java 17+ this machine has and returns its major version', () => {
    // Act
    const major = findJava();

    // Assess
    expect(Number.isInteger(major)).toBe(true);
    expect(major).toBeGreaterThanOrEqual(17);
  });

  it('fails when java is not on PATH, naming the package to install', () => {
    // Act
    const attempt = () => findJava({ command: 'java-that-is-not-installed' });

    // Assess
    expect(attempt).toThrow(JavaMissingError);
    expect(attempt).toThrow(
      /was not found on PATH.*apt-get install openjdk-17-jre-headless.*brew install openjdk@17/,
    );
  });

  it('rejects a Java older than 17 and reports the version it found', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'old-java-'));
    const fakeJava = join(dir, 'java');
    writeFileSync(fakeJava, '#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n');
    chmodSync(fakeJava, 0o755);

    try {
      // Act
      const failure = (() => {
        try {
          findJava({ command: fakeJava });
          return undefined;
        } catch (error) {
          return error;
        }
      })();

      // Assess
      expect(failure).toBeInstanceOf(JavaMissingError);
      expect((failure as JavaMissingError).foundMajor).toBe(8);
      expect((failure as JavaMissingError).message).toContain('is Java 8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startDynamoDbLocal', () => {
  it(
    'starts on a free loopback port, answers ListTables, and stop() leaves no java process',
    async () => {
      // Prepare
      const ddb = await startDynamoDbLocal({ port: 0 });
      const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'eu-west-1', credentials });

      try {
        // Act
        const { TableNames } = await client.send(new ListTablesCommand({}));

        // Assess
        expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
        expect(ddb.startupMs).toBeGreaterThan(0);
        expect(TableNames).toEqual([]);
        expect(processIsGone(ddb.pid)).toBe(false);
        expect(ddb.loopbackOnly).toBe(true);
        const external = firstExternalIpv4();
        if (external) expect(await tryConnect(external, ddb.port)).toBe('ECONNREFUSED');
      } finally {
        client.destroy();
        await ddb.stop();
      }

      // Assess
      expect(processIsGone(ddb.pid)).toBe(true);
      await expect(ddb.stop()).resolves.toBeUndefined();
    },
    JVM_TEST_TIMEOUT_MS,
  );

  it(
    'fails when its port is taken, quoting the last lines the JVM printed',
    async () => {
      // Prepare
      // Holds the port; drops each probe so close() need not wait for idle sockets.
      const blocker: Server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const address = blocker.address();
      const port = typeof address === 'object' && address ? address.port : 0;

      try {
        // Act
        const failure = await startDynamoDbLocal({ port }).catch((error: unknown) => error);

        // Assess
        expect(failure).toBeInstanceOf(DynamoDbLocalError);
        expect((failure as Error).message).toMatch(/exited before it was ready/);
        expect((failure as Error).message).toMatch(/bind/i);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    },
    JVM_TEST_TIMEOUT_MS,
  );

  it.each([
    ['dbPath together with inMemory', { inMemory: true, dbPath: tmpdir() }, /dbPath needs inMemory: false/],
    ['inMemory: false without a dbPath', { inMemory: false }, /needs a dbPath/],
    [
      'a dbPath that does not exist',
      { inMemory: false, dbPath: '/nonexistent/ddb' },
      /not an existing directory/,
    ],
    ['a port outside 0-65535', { port: 70_000 }, /port must be an integer/],
  ])('rejects %s before starting anything', async (_label, options, message) => {
    // Act
    const failure = startDynamoDbLocal(options);

    // Assess
    await expect(failure).rejects.toBeInstanceOf(DynamoDbLocalOptionsError);
    await expect(failure).rejects.toThrow(message);
  });

  it(
    'keeps tables in dbPath across restarts when not in memory',
    async () => {
      // Prepare
      const dbPath = mkdtempSync(join(tmpdir(), 'ddb-local-'));
      let ddb: DynamoDbLocal | undefined;
      try {
        ddb = await startDynamoDbLocal({ inMemory: false, dbPath });
        const first = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials });
        await createTableFromDesign(first, 'persisted');
        first.destroy();
        await ddb.stop();

        // Act
        ddb = await startDynamoDbLocal({ inMemory: false, dbPath });
        const second = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials });
        await createTableFromDesign(second, 'persisted');
        const { Table } = await second.send(new DescribeTableCommand({ TableName: 'persisted' }));
        second.destroy();

        // Assess
        expect(Table?.TableStatus).toBe('ACTIVE');
        expect(Table?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('GSI1');
      } finally {
        await ddb?.stop();
        rmSync(dbPath, { recursive: true, force: true });
      }
    },
    2 * JVM_TEST_TIMEOUT_MS,
  );
});
