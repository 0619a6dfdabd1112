import * as z from 'zod';
import {
  BacklogEnv,
  CorsEnv,
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_JWT_ISSUER,
  JwtEnv,
  loadConfig,
  PowertoolsEnv,
  TableEnv,
} from '#shared/config';

describe('loadConfig', () => {
  it('returns typed values with defaults applied and unrelated variables dropped', () => {
    // Act
    const config = loadConfig(z.object({ ...TableEnv, ...JwtEnv, ...CorsEnv }), {
      TABLE_NAME: 'orchestrator',
      JWT_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:jwt',
      CORS_ALLOWED_ORIGINS: ' https://a.example.com ,,https://b.example.com',
      PATH: '/usr/bin',
    });

    // Assess
    expect(config).toEqual({
      TABLE_NAME: 'orchestrator',
      JWT_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:jwt',
      JWT_ISSUER: DEFAULT_JWT_ISSUER,
      JWT_AUDIENCE: DEFAULT_JWT_AUDIENCE,
      CORS_ALLOWED_ORIGINS: ['https://a.example.com', 'https://b.example.com'],
    });
  });

  it('treats an unset CORS list as no origins', () => {
    expect(loadConfig(z.object(CorsEnv), {}).CORS_ALLOWED_ORIGINS).toEqual([]);
  });

  it('fails naming every missing and invalid variable at once', () => {
    // Act
    const act = () =>
      loadConfig(z.object({ ...TableEnv, ...JwtEnv, ...PowertoolsEnv }), {
        TABLE_NAME: '  ',
        LOG_LEVEL: 'loud',
        POWERTOOLS_SERVICE_NAME: 'svc',
      });

    // Assess
    expect(act).toThrow(/TABLE_NAME is invalid/);
    expect(act).toThrow(/JWT_SECRET_ARN is missing/);
    expect(act).toThrow(/LOG_LEVEL is invalid/);
    expect(act).toThrow(/POWERTOOLS_METRICS_NAMESPACE is missing/);
  });

  it('accepts log levels in any case', () => {
    const config = loadConfig(z.object(PowertoolsEnv), {
      LOG_LEVEL: 'debug',
      POWERTOOLS_SERVICE_NAME: 's',
      POWERTOOLS_METRICS_NAMESPACE: 'n',
    });
    expect(config.LOG_LEVEL).toBe('DEBUG');
  });

  it('defaults the backlog bound to 5000, Retry-After to 30 s and the count cache to 5 s', () => {
    expect(loadConfig(z.object(BacklogEnv), {})).toEqual({
      MAX_BACKLOG_ISSUES: 5000,
      BACKLOG_RETRY_AFTER_SECONDS: 30,
      BACKLOG_COUNT_CACHE_SECONDS: 5,
    });
  });

  it('reads the backlog settings as whole numbers', () => {
    expect(
      loadConfig(z.object(BacklogEnv), {
        MAX_BACKLOG_ISSUES: '1',
        BACKLOG_RETRY_AFTER_SECONDS: ' 7 ',
        BACKLOG_COUNT_CACHE_SECONDS: '0',
      }),
    ).toEqual({ MAX_BACKLOG_ISSUES: 1, BACKLOG_RETRY_AFTER_SECONDS: 7, BACKLOG_COUNT_CACHE_SECONDS: 0 });
  });

  it.each([
    ['MAX_BACKLOG_ISSUES', '0'],
    ['MAX_BACKLOG_ISSUES', '2.5'],
    ['MAX_BACKLOG_ISSUES', 'lots'],
    ['MAX_BACKLOG_ISSUES', ''],
    ['BACKLOG_RETRY_AFTER_SECONDS', '0'],
    ['BACKLOG_COUNT_CACHE_SECONDS', '-1'],
  ])('fails when %s is %j', (name, value) => {
    expect(() => loadConfig(z.object(BacklogEnv), { [name]: value })).toThrow(`${name} is invalid`);
  });
});
