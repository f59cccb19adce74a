/* What the offline tablet keeps, in IndexedDB database "listexp-tablet".
 *
 *   settings   value by key: token, label, waveId, uiLanguage, current (the interview
 *              in progress), revoked (the server's sentence), lastPlace, lastLanguage,
 *              wavesLoadedAt, lastSentAt
 *   waves      the API's wave objects, by id
 *   slots      reserved slots, by id, with their wave and a state: free, taken (by the
 *              interview in progress, whose uuid is beside it) or used
 *   queue      interviews waiting to be sent, by uuid: {uuid, seq, wave, item}, where
 *              item is exactly what is POSTed
 *   attention  interviews the server answered conflict or rejected, by uuid, with
 *              the server's errors
 *
 * Every change that must hold together (take a slot and remember the interview; queue
 * an interview and mark its slot used) is one transaction.
 */
window.TabletStore = (function () {
  "use strict";

  const NAME = "listexp-tablet";
  const STORES = ["settings", "waves", "slots", "queue", "attention"];
  let opening = null;

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(NAME, 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          db.createObjectStore("settings");
          db.createObjectStore("waves", { keyPath: "id" });
          db.createObjectStore("slots", { keyPath: "id" });
          db.createObjectStore("queue", { keyPath: "uuid" });
          db.createObjectStore("attention", { keyPath: "uuid" });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return opening;
  }

  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  // Runs body(stores) in one transaction and resolves with what body returns once the
  // transaction has committed. body may await only requests of this transaction: any
  // other wait lets the transaction commit early.
  async function transact(names, mode, body) {
    const db = await open();
    const tx = db.transaction(names, mode);
    const committed = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
    });
    const stores = {};
    names.forEach((name) => {
      stores[name] = tx.objectStore(name);
    });
    let value;
    try {
      value = await body(stores);
    } catch (error) {
      committed.catch(() => {});
      try {
        tx.abort();
      } catch (finished) {
        // The transaction had already ended; the error thrown below says why.
      }
      throw error;
    }
    await committed;
    return value;
  }

  function settingSet(key, value) {
    return transact(["settings"], "readwrite", (s) => done(s.settings.put(value, key)));
  }

  function settingDelete(key) {
    return transact(["settings"], "readwrite", (s) => done(s.settings.delete(key)));
  }

  // The queue in the order the interviews were saved.
  async function queueRead() {
    const rows = await transact(["queue"], "readonly", (s) => done(s.queue.getAll()));
    return rows.sort((a, b) => a.seq - b.seq || (a.uuid < b.uuid ? -1 : 1));
  }

  function attentionRead() {
    return transact(["attention"], "readonly", (s) => done(s.attention.getAll()));
  }

  // Everything at once, from one consistent read.
  function snapshot() {
    return transact(STORES, "readonly", async (s) => {
      const keys = await done(s.settings.getAllKeys());
      const values = await done(s.settings.getAll());
      const settings = {};
      keys.forEach((key, i) => {
        settings[key] = values[i];
      });
      return {
        settings,
        waves: await done(s.waves.getAll()),
        slots: await done(s.slots.getAll()),
        queueSize: await done(s.queue.count()),
        attention: await done(s.attention.getAll()),
      };
    });
  }

  // Applies the server's answer to one batch: created and duplicate leave the queue,
  // conflict and rejected move to the attention list, anything else stays queued.
  // Resolves with how many interviews left the queue.
  function resultsApply(batch, results) {
    const at = new Date().toISOString();
    return transact(["queue", "attention"], "readwrite", (s) => {
      let settled = 0;
      results.forEach((answer) => {
        const row = batch[answer.index];
        if (!row) {
          return;
        }
        if (answer.result === "conflict" || answer.result === "rejected") {
          s.attention.put({
            uuid: row.uuid,
            wave: row.wave,
            item: row.item,
            result: answer.result,
            errors: answer.errors || {},
            at,
          });
        } else if (answer.result !== "created" && answer.result !== "duplicate") {
          return;
        }
        s.queue.delete(row.uuid);
        settled += 1;
      });
      return settled;
    });
  }

  return {
    STORES,
    done,
    transact,
    settingSet,
    settingDelete,
    queueRead,
    attentionRead,
    snapshot,
    resultsApply,
  };
})();
