/**
 * Finds the Java runtime that DynamoDB Local needs. Java is the one prerequisite that
 * does not come from npm (DESIGN C1), so a missing or old `java` must stop the offline
 * runtime with one line that says what to install.
 */
import { spawnSync } from 'node:child_process';

/** DynamoDB Local 1.25 and later need Java 17. */
export const MINIMUM_JAVA_MAJOR = 17;

const INSTALL_HINT =
  'install it with `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), ' +
  '`brew install openjdk@17` (macOS), or any Java 17+ runtime such as Eclipse Temurin ' +
  '(https://adoptium.net) elsewhere, and make sure `java` is on PATH';

/** `java` is absent, does not answer, or is older than {@link MINIMUM_JAVA_MAJOR}. */
export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';

  /**
   * @param foundMajor the major version that was found, when one was
   * @param problem what went wrong, as a clause ("`java` was not found on PATH")
   */
  constructor(
    readonly foundMajor: number | undefined,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `DynamoDB Local needs Java ${MINIMUM_JAVA_MAJOR} or newer, but ${problem}; ${INSTALL_HINT}.`,
      options,
    );
  }
}

/**
 * Reads the major version from the output of `java -version` (which goes to stderr).
 * Handles the legacy `1.8.0_392` scheme (major 8), `17.0.15`, bare `21`, early-access
 * suffixes (`17-ea`), and leading `Picked up JAVA_TOOL_OPTIONS` lines.
 *
 * @returns the major version, or undefined when the text holds none
 * @example
 * parseJavaMajorVersion('openjdk version "17.0.15" 2025-04-15'); // 17
 * parseJavaMajorVersion('java version "1.8.0_392"'); // 8
 */
export function parseJavaMajorVersion(output: string): number | undefined {
  const quoted = /\bversion\s+"(\d+)(?:\.(\d+))?[^"]*"/.exec(output);
  // `java --version` prints `openjdk 21.0.2 2024-01-16` without quotes.
  const bare = quoted ? undefined : /^(?:openjdk|java)\s+(\d+)(?:\.(\d+))?/m.exec(output);
  const match = quoted ?? bare;
  if (!match?.[1]) return undefined;
  const first = Number(match[1]);
  // Before Java 9 the major version came second: 1.8 is Java 8.
  if (first === 1 && match[2] !== undefined) return Number(match[2]);
  return first;
}

export interface FindJavaOptions {
  /** The executable to run. @default 'java' (looked up on PATH) */
  command?: string;
  /** How long `java -version` may take. @default 10_000 */
  timeoutMs?: number;
}

/**
 * Runs `java -version` and returns the major version when it is at least
 * {@link MINIMUM_JAVA_MAJOR}.
 *
 * @throws JavaMissingError when java is missing, hangs, fails, or is too old
 * @example
 * const major = findJava(); // 17, or a JavaMissingError naming what to install
 */
export function findJava(options: FindJavaOptions = {}): number {
  const { command = 'java', timeoutMs = 10_000 } = options;
  const result = spawnSync(command, ['-version'], {
    encoding: 'utf8',
    timeout: timeoutMs,
    windowsHide: true,
  });

  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new JavaMissingError(undefined, `\`${command}\` was not found on PATH`);
    if (code === 'ETIMEDOUT') {
      throw new JavaMissingError(undefined, `\`${command} -version\` did not answer within ${timeoutMs} ms`, {
        cause: result.error,
      });
    }
    throw new JavaMissingError(undefined, `\`${command} -version\` could not run (${result.error.message})`, {
      cause: result.error,
    });
  }

  const output = `${result.stderr ?? ''}\n${result.stdout ?? ''}`;
  const firstLine = output.trim().split('\n')[0] ?? '';
  if (result.status !== 0) {
    throw new JavaMissingError(
      undefined,
      `\`${command} -version\` exited with ${result.status}: ${firstLine}`,
    );
  }
  const major = parseJavaMajorVersion(output);
  if (major === undefined) {
    throw new JavaMissingError(undefined, `\`${command} -version\` printed no version ("${firstLine}")`);
  }
  if (major < MINIMUM_JAVA_MAJOR) {
    throw new JavaMissingError(major, `\`${command}\` is Java ${major}`);
  }
  return major;
}
