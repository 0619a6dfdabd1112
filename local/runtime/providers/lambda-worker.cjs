// @ts-check
/**
 * One Lambda execution environment of the offline runtime: a worker thread started by
 * `lambda.ts` with the function's own `process.env` and its own module cache.
 *
 * Plain CommonJS on purpose: a worker thread is a fresh Node isolate that loads this
 * file from disk, so it must run without a TypeScript loader in every host (tsx for
 * `npm start`, @swc/jest in the tests), and it adds nothing to the cold start.
 *
 * Protocol (structured-clone messages on the worker's port, in order):
 * - worker → parent, once: `{ type: 'ready', initDurationMs }` after the handler module
 *   loaded, or `{ type: 'init-error', error }` (then the parent terminates it).
 * - parent → worker: `{ type: 'invoke', requestId, eventJson, invokedFunctionArn,
 *   timeoutMs, traceId, clientContextJson? }`, one at a time.
 * - worker → parent: `{ type: 'log', stream, text }` for everything written to
 *   stdout/stderr, then `{ type: 'result', requestId, ok, payloadJson | error, heapUsedMb }`.
 *   Logs share the port with results, so a result never overtakes its own log lines.
 */
'use strict';

const { existsSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { format } = require('node:util');
const v8 = require('node:v8');
const { parentPort, workerData } = require('node:worker_threads');

/**
 * @typedef {object} WorkerConfig
 * @property {string} taskRoot          Folder holding the function code (LAMBDA_TASK_ROOT).
 * @property {string} handler           `file.export`, e.g. `index.handler`.
 * @property {string} functionName
 * @property {string} functionVersion
 * @property {number} memorySize
 * @property {string} logGroupName
 * @property {string} logStreamName
 * @property {'Text' | 'JSON'} logFormat
 * @property {boolean} enableSourceMaps Set when the template's NODE_OPTIONS has --enable-source-maps.
 *
 * @typedef {{ errorType: string, errorMessage: string, trace: string[] }} SerializedError
 *
 * @typedef {object} InvokeMessage
 * @property {'invoke'} type
 * @property {string} requestId
 * @property {string} eventJson
 * @property {string} invokedFunctionArn
 * @property {number} timeoutMs
 * @property {string} traceId
 * @property {string} [clientContextJson]
 *
 * @typedef {(event: unknown, context: object, callback: (error?: unknown, result?: unknown) => void) => unknown} Handler
 */

if (!parentPort) throw new Error('lambda-worker.cjs runs only inside a worker thread');
const port = parentPort;
const config = /** @type {WorkerConfig} */ (workerData);

/** The request being served; console lines carry it, as the Lambda Node.js runtime's do. */
let currentRequestId = 'undefined';

if (config.enableSourceMaps) process.setSourceMapsEnabled(true);
captureOutput();
patchConsole();

/** Lambda's Node.js runtime reports these init failures under its own error types. */
class ImportModuleError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'Runtime.ImportModuleError';
  }
}

class HandlerNotFoundError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'Runtime.HandlerNotFound';
  }
}

/** @type {Handler | undefined} */
let handler;

init().then(
  (initDurationMs) => port.postMessage({ type: 'ready', initDurationMs }),
  (error) => {
    logError('Init Error', error);
    port.postMessage({ type: 'init-error', error: serializeError(error) });
  },
);

port.on('message', (/** @type {InvokeMessage} */ message) => {
  if (message.type === 'invoke') void invoke(message);
});

/** Loads the handler module (the cold start) and resolves with how long that took. */
async function init() {
  const started = performance.now();
  const { modulePath, exportPath } = splitHandler(config.handler);
  const loaded = await loadModule(modulePath);
  /** @type {unknown} */
  let candidate = loaded;
  for (const key of exportPath) {
    candidate = candidate == null ? undefined : /** @type {Record<string, unknown>} */ (candidate)[key];
  }
  if (typeof candidate !== 'function') {
    throw new HandlerNotFoundError(`${config.handler} is undefined or not exported`);
  }
  handler = /** @type {Handler} */ (candidate);
  return performance.now() - started;
}

/**
 * `dir/file.a.b` → module `dir/file`, export path `['a', 'b']`: the module name ends at
 * the first dot after the last slash, as in the Lambda runtime.
 * @param {string} handlerString
 */
function splitHandler(handlerString) {
  const dot = handlerString.indexOf('.', handlerString.lastIndexOf('/') + 1);
  if (dot <= 0 || dot === handlerString.length - 1) {
    throw new HandlerNotFoundError(`Bad handler ${handlerString}: expected <file>.<export>`);
  }
  return {
    modulePath: handlerString.slice(0, dot),
    exportPath: handlerString.slice(dot + 1).split('.'),
  };
}

/** @param {string} modulePath */
async function loadModule(modulePath) {
  const base = path.resolve(config.taskRoot, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((extension) => base + extension).find((name) => existsSync(name));
  if (!file) throw new ImportModuleError(`Error: Cannot find module '${modulePath}'`);
  if (file.endsWith('.mjs')) return import(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (error) {
    // A `.js` file under a `"type": "module"` package.json is an ES module.
    if (/** @type {{ code?: string }} */ (error)?.code === 'ERR_REQUIRE_ESM') {
      return import(pathToFileURL(file).href);
    }
    if (error instanceof SyntaxError) error.name = 'Runtime.UserCodeSyntaxError';
    throw error;
  }
}

/** @param {InvokeMessage} message */
async function invoke(message) {
  currentRequestId = message.requestId;
  process.env._X_AMZN_TRACE_ID = message.traceId;
  const deadline = Date.now() + message.timeoutMs;
  const context = {
    awsRequestId: message.requestId,
    functionName: config.functionName,
    functionVersion: config.functionVersion,
    invokedFunctionArn: message.invokedFunctionArn,
    memoryLimitInMB: String(config.memorySize),
    logGroupName: config.logGroupName,
    logStreamName: config.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    clientContext: message.clientContextJson ? JSON.parse(message.clientContextJson) : undefined,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  /** @type {Record<string, unknown>} */
  let outcome;
  try {
    if (!handler) throw new HandlerNotFoundError(`${config.handler} is undefined or not exported`);
    const result = await runHandler(handler, JSON.parse(message.eventJson), context);
    const payloadJson = JSON.stringify(result === undefined ? null : result);
    outcome = { ok: true, payloadJson };
  } catch (error) {
    logError('Invoke Error', error);
    outcome = { ok: false, error: serializeError(error) };
  } finally {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const heapUsedMb = Math.ceil(v8.getHeapStatistics().used_heap_size / 1048576);
  port.postMessage({ type: 'result', requestId: message.requestId, heapUsedMb, ...outcome });
  currentRequestId = 'undefined';
}

/**
 * Settles on whichever comes first: the returned promise, the callback, or the legacy
 * `context.done/succeed/fail`. A handler that returns a plain value and takes no
 * callback resolves with that value.
 * @param {Handler} fn
 * @param {unknown} event
 * @param {Record<string, unknown>} context
 * @returns {Promise<unknown>}
 */
function runHandler(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    /** @param {unknown} [error] @param {unknown} [value] */
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(value);
    };
    context.done = finish;
    context.succeed = (/** @type {unknown} */ value) => finish(null, value);
    context.fail = (/** @type {unknown} */ error) => finish(error ?? new Error('handled'));
    /** @type {unknown} */
    let returned;
    try {
      returned = fn(event, context, finish);
    } catch (error) {
      finish(error ?? new Error('handler threw a nullish value'));
      return;
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => finish(null, value),
        (error) => finish(error ?? new Error('handler rejected with a nullish value')),
      );
    } else if (fn.length < 3) {
      finish(null, returned);
    }
  });
}

/**
 * @param {unknown} value
 * @returns {value is PromiseLike<unknown>}
 */
function isThenable(value) {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (/** @type {{ then?: unknown }} */ (value).then) === 'function'
  );
}

/**
 * The `{errorType, errorMessage, trace}` shape Lambda returns for an unhandled error;
 * a thrown non-Error is reported by its type, as the Node.js runtime does.
 * @param {unknown} error
 * @returns {SerializedError}
 */
function serializeError(error) {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const { name, message, stack } = /** @type {Error} */ (error);
    return {
      errorType: typeof name === 'string' && name ? name : 'Error',
      errorMessage: String(message ?? ''),
      trace: typeof stack === 'string' ? stack.split('\n') : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

/** @param {string} label @param {unknown} error */
function logError(label, error) {
  console.error(`${label} \t${JSON.stringify(serializeError(error))}`);
}

/** Forwards stdout and stderr over the port, so they stay ordered with the results. */
function captureOutput() {
  for (const name of /** @type {const} */ (['stdout', 'stderr'])) {
    const stream = process[name];
    /**
     * @param {string | Uint8Array} chunk
     * @param {BufferEncoding | (() => void)} [encoding]
     * @param {() => void} [callback]
     */
    const write = (chunk, encoding, callback) => {
      const text =
        typeof chunk === 'string'
          ? chunk
          : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
      port.postMessage({ type: 'log', stream: name, text });
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done) process.nextTick(done);
      return true;
    };
    stream.write = /** @type {typeof stream.write} */ (write);
  }
}

/**
 * `console.*` as the Lambda Node.js runtime formats it: tab-separated timestamp,
 * request id, level and message in the Text log format, one JSON object in JSON.
 */
function patchConsole() {
  /** @type {Array<[keyof Console, string]>} */
  const levels = [
    ['log', 'INFO'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
    ['debug', 'DEBUG'],
    ['trace', 'TRACE'],
  ];
  for (const [method, level] of levels) {
    const stream = level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout;
    /** @param {unknown[]} args */
    const emit = (...args) => {
      const message = method === 'trace' ? `${format(...args)}\n${traceOf()}` : format(...args);
      const timestamp = new Date().toISOString();
      const line =
        config.logFormat === 'JSON'
          ? JSON.stringify({ timestamp, level, requestId: currentRequestId, message })
          : `${timestamp}\t${currentRequestId}\t${level}\t${message}`;
      stream.write(`${line}\n`);
    };
    Object.defineProperty(console, method, { value: emit, writable: true, configurable: true });
  }
}

function traceOf() {
  return (new Error().stack ?? '').split('\n').slice(3).join('\n');
}
