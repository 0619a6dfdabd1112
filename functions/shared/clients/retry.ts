/**
 * AWS SDK clients, one module per service, each created once per execution environment.
 *
 * One module per client because `@aws-sdk/*` stays external to the bundles (Lambda's runtime
 * has it): esbuild keeps every `require` of an external package a bundle imports, used or
 * not, so a single module of all clients made every function load all six packages at cold
 * start. A function now loads only the clients it imports.
 *
 * No endpoint is set here: the SDK reads the standard variables (`AWS_ENDPOINT_URL`,
 * `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, ...), which is how the
 * offline runtime and LocalStack redirect the same code.
 *
 * Retries: DynamoDB, SFN, SQS and EventBridge use SDK_RETRY_OPTIONS, stated here rather than
 * left to the SDK's defaults (3 attempts) or to AWS_MAX_ATTEMPTS / AWS_RETRY_MODE.
 */
/**
 * The SDK v3 `standard` retry strategy with 5 attempts (1 try + 4 retries). As implemented in
 * @smithy/core 3.41 (dist-es/submodules/retry/util-retry: StandardRetryStrategy.js,
 * DefaultRetryBackoffStrategy.js, retries-2026-config.js, constants.js):
 * - throttling (ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded,
 *   TooManyRequestsException, HTTP 429, ...) and transient errors (5xx, timeouts) are retried;
 * - the delay before retry i (0-based) is full jitter, `random() * min(base * 2^i, 20_000)` ms
 *   (MAXIMUM_RETRY_DELAY), with `base` 1,000 ms after a throttling error
 *   (Retry.throttlingDelay) and 50 ms otherwise (Retry.delay);
 * - a client-wide token bucket of 500 (INITIAL_RETRY_TOKENS) pays 5 per throttling retry and 14
 *   per other retry, and refills on success, so a sustained outage stops retrying instead of
 *   multiplying the load.
 * Five attempts ride out a short throttling burst (up to 1 + 2 + 4 + 8 = 15 s of backoff, 7.5 s
 * expected) inside an API request's 29 s; anything longer surfaces as 429 THROTTLED.
 */
export const SDK_RETRY_OPTIONS = { maxAttempts: 5, retryMode: 'standard' } as const;
