/* Sending the tablet's queue: batches in the order saved, retried with backoff.
 *
 * TabletSending({post, batchSize, allowed, changed}) makes a sender. post(responses)
 * resolves with the server's answer or rejects: a TypeError when the network failed,
 * an error with a status when the server answered otherwise. A 401 stops sending
 * until the tablet is registered again (allowed() then says no); any other failure
 * leaves the queue as it is and tries again after 2 s, 4 s, 8 s ... up to 5 minutes.
 */
window.TabletSending = function (options) {
  "use strict";

  const store = window.TabletStore;
  const RETRY_FIRST_MS = 2000;
  const RETRY_MAX_MS = 5 * 60 * 1000;
  const status = { running: null, failures: 0, problem: null };
  let timer = null;

  function withLock(work) {
    // Two open tabs of the app send one after the other, never the same batch at once.
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("listexp-tablet-sync", work);
    }
    return work();
  }

  async function batchesSend() {
    clearTimeout(timer);
    let sent = false;
    try {
      for (;;) {
        const queued = await store.queueRead();
        if (!queued.length) {
          break;
        }
        const batch = queued.slice(0, options.batchSize);
        const answer = await options.post(batch.map((row) => row.item));
        const settled = await store.resultsApply(batch, answer.results || []);
        sent = true;
        if (!settled) {
          break;
        }
      }
      status.failures = 0;
      status.problem = null;
    } catch (error) {
      if (error.status !== 401) {
        retryLater(error.status || null);
      }
    }
    if (sent) {
      await store.settingSet("lastSentAt", new Date().toISOString());
    }
  }

  function retryLater(httpStatus) {
    status.failures += 1;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** (status.failures - 1), RETRY_MAX_MS);
    status.problem = { status: httpStatus, nextTry: Date.now() + delay };
    timer = setTimeout(() => {
      if (navigator.onLine) {
        sync();
      }
    }, delay);
  }

  // Sends now unless a send is already running; resolves when it is over.
  function sync() {
    if (!status.running && options.allowed()) {
      status.running = withLock(batchesSend).finally(() => {
        status.running = null;
        options.changed();
      });
      options.changed();
    }
    return status.running || Promise.resolve();
  }

  // True when the last failure's wait is over (or nothing failed).
  function due() {
    return !status.problem || Date.now() >= status.problem.nextTry;
  }

  // A network just came back or the interviewer asked: the next failure waits 2 s.
  function reset() {
    status.failures = 0;
  }

  return { status, sync, due, reset };
};
