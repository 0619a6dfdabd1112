/**
 * Stage throttling (MethodSettings ThrottlingRateLimit / ThrottlingBurstLimit): one token
 * bucket per stage and method, holding `burst` tokens and refilled at `rate` per second,
 * as API Gateway applies a `/*` `*` setting to each method separately. A setting for the
 * exact resource path and method wins over the stage-wide one. The account-level limit
 * (10,000 rps) is not modelled.
 */
import type { MethodSettingState, StageState } from './model';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class StageThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number) {}

  /** Takes a token for this method; false when the caller is to get 429 THROTTLED. */
  tryTake(apiId: string, stage: StageState, resourcePath: string, httpMethod: string): boolean {
    const setting = settingFor(stage.methodSettings, resourcePath, httpMethod);
    if (!setting) return true;
    const rate = setting.throttlingRateLimit;
    const burst = setting.throttlingBurstLimit ?? Math.max(1, Math.ceil(rate ?? 1));
    const key = `${apiId}/${stage.name}/${httpMethod} ${resourcePath}`;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, updatedAt: now };
    // Only a burst limit: the bucket refills at once; only a rate: it holds one second's worth.
    const refill = rate === undefined ? burst : ((now - bucket.updatedAt) / 1000) * rate;
    bucket.tokens = Math.min(burst, bucket.tokens + refill);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

function settingFor(
  settings: readonly MethodSettingState[],
  resourcePath: string,
  httpMethod: string,
): MethodSettingState | undefined {
  return (
    settings.find((s) => s.resourcePath === resourcePath && s.httpMethod === httpMethod) ??
    settings.find((s) => s.resourcePath === resourcePath && s.httpMethod === '*') ??
    settings.find((s) => s.resourcePath === '/*' && s.httpMethod === '*')
  );
}
