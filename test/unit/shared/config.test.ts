import * as z from 'zod';
import {
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
});
