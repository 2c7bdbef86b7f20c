// PostGraphile 5 declares Node >= 22 and calls Promise.withResolvers (Node 22+); this
// project runs on Node 20. This shim adds exactly that one function (same contract) to
// the PostGraphile baseline's process, and nothing else. Imported before postgraphile.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
