import { JavaMissingError, MINIMUM_JAVA_MAJOR, parseJavaMajorVersion } from '#local/java';

describe('parseJavaMajorVersion', () => {
  it.each([
    [
      'OpenJDK 17 on Debian',
      'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)',
      17,
    ],
    ['Oracle Java 8, legacy 1.x scheme', 'java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 8],
    ['a bare GA version', 'openjdk version "21" 2023-09-19', 21],
    ['an early-access build', 'openjdk version "23-ea" 2024-09-17', 23],
    [
      'Java 11 with a JAVA_TOOL_OPTIONS notice first',
      'Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "11.0.22" 2024-01-16',
      11,
    ],
    ['`java --version` output without quotes', 'openjdk 21.0.2 2024-01-16\nOpenJDK Runtime Environment', 21],
    ['Java 9, the first without the 1. prefix', 'java version "9.0.4"', 9],
  ])('reads %s', (_label, output, expected) => {
    // Act
    const major = parseJavaMajorVersion(output);

    // Assess
    expect(major).toBe(expected);
  });

  it.each([
    ['empty output', ''],
    ['a shell error', 'bash: java: command not found'],
  ])('returns undefined for %s', (_label, output) => {
    // Act
    const major = parseJavaMajorVersion(output);

    // Assess
    expect(major).toBeUndefined();
  });
});

describe('JavaMissingError', () => {
  it('says on one line what to install on Debian/Ubuntu, macOS and elsewhere', () => {
    // Act
    const error = new JavaMissingError(11, '`java` is Java 11');

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('JavaMissingError');
    expect(error.foundMajor).toBe(11);
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(`Java ${MINIMUM_JAVA_MAJOR} or newer`);
    expect(error.message).toContain('`java` is Java 11');
    expect(error.message).toContain('apt-get install openjdk-17-jre-headless');
    expect(error.message).toContain('brew install openjdk@17');
    expect(error.message).toContain('adoptium.net');
  });
});
