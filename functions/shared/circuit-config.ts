/**
 * The agents' circuit-breaker tuning from the environment: `CIRCUIT_BREAKER`, a JSON object
 * with any of the fields of `CircuitBreakerConfig`, merged over the defaults and validated
 * when the module loads. The stack sets it from its `circuitBreaker` prop.
 */
import * as z from 'zod';
import {
  type CircuitBreakerConfig,
  DEFAULT_CIRCUIT_CONFIG,
  validateCircuitConfig,
} from '#core/circuit-breaker';

const Overrides = z
  .object({
    failure_threshold: z.number(),
    cooldown_ms: z.number(),
    half_open_max_probes: z.number(),
    success_threshold: z.number(),
    probe_timeout_ms: z.number(),
  })
  .partial()
  .strict();

export const CircuitEnv = {
  CIRCUIT_BREAKER: z
    .string()
    .optional()
    .transform((text, context): CircuitBreakerConfig => {
      try {
        const overrides = Overrides.parse(text ? JSON.parse(text) : {});
        return validateCircuitConfig({ ...DEFAULT_CIRCUIT_CONFIG, ...overrides });
      } catch (error) {
        context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    }),
} as const;
