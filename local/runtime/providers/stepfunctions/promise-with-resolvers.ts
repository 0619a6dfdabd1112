/**
 * `Promise.withResolvers` for Node 20. aws-local-stepfunctions 3.0.0 (the only version the
 * registry serves) declares Node >= 22 and calls it in every Task state; this module is
 * imported first by engine.ts, before the library loads. Keep it while package.json
 * `engines` allows Node 20.
 */
const promiseConstructor = Promise as PromiseConstructor & { withResolvers?: unknown };

if (typeof promiseConstructor.withResolvers !== 'function') {
  promiseConstructor.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((onResolve, onReject) => {
      resolve = onResolve;
      reject = onReject;
    });
    return { promise, resolve, reject };
  };
}

export {};
