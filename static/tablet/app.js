/* The offline tablet app: register the tablet, load waves, reserve slots, interview
 * without a network, and send the interviews when a network is back.
 *
 * What the tablet keeps is described in store.js and how it sends in sending.js. The
 * texts come from the page, in every language, so that the interview's screens can
 * be in another language than the interviewer's.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("tablet-config").textContent);
  const TEXTS = JSON.parse(document.getElementById("tablet-texts").textContent);
  const TICK_MS = 60 * 1000;

  const state = {
    token: null,
    label: "",
    uiLanguage: TEXTS[config.ui_language] ? config.ui_language : "en",
    waves: [],
    waveId: null,
    wavesLoadedAt: null,
    wavesMessage: "",
    slots: [],
    queueSize: 0,
    attention: [],
    current: null,
    interviewLanguage: null,
    revoked: null,
    lastPlace: null,
    lastLanguage: null,
    lastSentAt: null,
  };

  const store = window.TabletStore;
  const done = store.done;
  const transact = store.transact;
  const settingSet = store.settingSet;

  // Reads what the tablet holds. The interview in progress is read only when the page
  // starts: afterwards the interview's own steps keep it, and a background refresh
  // must not put back an older copy of it.
  async function stateLoad(withCurrent) {
    const read = await store.snapshot();
    const settings = read.settings;
    state.token = settings.token || null;
    state.label = settings.label || "";
    if (settings.uiLanguage && TEXTS[settings.uiLanguage]) {
      state.uiLanguage = settings.uiLanguage;
    }
    state.waves = read.waves;
    state.waveId = settings.waveId || null;
    state.wavesLoadedAt = settings.wavesLoadedAt || null;
    if (withCurrent) {
      state.current = settings.current || null;
    }
    state.revoked = settings.revoked || null;
    state.lastPlace = settings.lastPlace || null;
    state.lastLanguage = settings.lastLanguage || null;
    state.lastSentAt = settings.lastSentAt || null;
    state.slots = read.slots;
    state.queueSize = read.queueSize;
    state.attention = read.attention.sort((a, b) => (a.at < b.at ? -1 : 1));
    if (!state.waves.some((wave) => wave.id === state.waveId)) {
      state.waveId = state.waves.length ? state.waves[0].id : null;
    }
  }

  /* ---- Texts and small helpers ---- */

  function t(key, params, language) {
    const texts = TEXTS[language || state.uiLanguage] || TEXTS.en;
    const text = texts[key] || TEXTS.en[key] || key;
    if (!params) {
      return text;
    }
    return text.replace(/%\((\w+)\)s/g, (match, name) => String(params[name]));
  }

  function $(id) {
    return document.getElementById(id);
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (name === "text") {
        node.textContent = value;
      } else if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? "" : value);
      }
    });
    (children || []).forEach((child) => node.append(child));
    return node;
  }

  function localTime(iso) {
    if (!iso) {
      return "";
    }
    try {
      return new Date(iso).toLocaleString(state.uiLanguage);
    } catch (unknownLocale) {
      return new Date(iso).toLocaleString();
    }
  }

  function newUuid() {
    if (crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
    return parts.concat(hex.slice(20)).join("-");
  }

  function currentWave() {
    return state.waves.find((wave) => wave.id === state.waveId) || null;
  }

  function freeSlots(waveId, stratum) {
    return state.slots
      .filter((s) => s.wave === waveId && s.state === "free" && s.stratum === stratum)
      .sort((a, b) => a.position - b.position);
  }

  function placeName(wave, code) {
    const place = wave && wave.settlements.find((s) => s.code === code);
    return place ? place.name : code;
  }

  /* ---- Screens ---- */

  const SCREENS = ["enrol", "home", "register", "card", "questions", "done"];

  function show(name, message, kind) {
    SCREENS.forEach((screen) => {
      $("screen-" + screen).hidden = screen !== name;
    });
    const flash = $("flash");
    flash.hidden = !message;
    flash.className = "alert alert-" + (kind || "info");
    flash.textContent = message || "";
    applyTexts();
    renderNetwork();
    window.scrollTo(0, 0);
  }

  function applyTexts() {
    document.documentElement.lang = state.uiLanguage;
    document.title = t("app_title");
    document.querySelectorAll("[data-t]").forEach((node) => {
      node.textContent = t(node.dataset.t);
    });
    document.querySelectorAll("[data-t-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.tLabel));
    });
    const language = state.interviewLanguage || state.uiLanguage;
    document.querySelectorAll("[data-ti]").forEach((node) => {
      node.textContent = t(node.dataset.ti, null, language);
    });
    ["card", "questions", "done"].forEach((screen) => {
      $("screen-" + screen).lang = language;
    });
  }

  function renderNetwork() {
    const badge = $("network");
    badge.textContent = navigator.onLine ? t("online") : t("offline");
    badge.className = "badge " + (navigator.onLine ? "text-bg-success" : "text-bg-warning");
    $("reserve").disabled = !navigator.onLine;
    $("load-waves").disabled = !navigator.onLine;
  }

  function renderQueue() {
    $("queue-count").textContent = String(state.queueSize);
    const sending = sender.status;
    const problem = sending.problem;
    const lastSent = state.lastSentAt && t("last_sent", { time: localTime(state.lastSentAt) });
    let status = "";
    if (sending.running) {
      status = t("sending");
    } else if (problem && state.queueSize) {
      const time = new Date(problem.nextTry).toLocaleTimeString(state.uiLanguage);
      status = problem.status
        ? t("server_failed", { status: problem.status, time })
        : t("network_failed", { time });
    } else if (!state.queueSize && !state.attention.length && lastSent) {
      status = t("all_sent") + " " + lastSent;
    } else if (lastSent) {
      status = lastSent;
    }
    $("sync-status").textContent = status;
    $("send-now").disabled = Boolean(sending.running || state.revoked);

    $("revoked").hidden = !state.revoked;
    $("revoked-detail").textContent = state.revoked || "";

    $("attention").hidden = !state.attention.length;
    const list = $("attention-list");
    list.replaceChildren();
    state.attention.forEach((entry) => {
      const wave = state.waves.find((w) => w.id === entry.wave);
      const heading = t("interview_of", {
        time: localTime(entry.item.finished_at || entry.item.registered_at),
        place: placeName(wave, entry.item.place),
      });
      const errors = [];
      Object.entries(entry.errors || {}).forEach(([field, messages]) => {
        [].concat(messages).forEach((message) => {
          const text = typeof message === "string" ? message : JSON.stringify(message);
          errors.push(element("li", { text, "data-field": field }));
        });
      });
      list.append(
        element("li", { class: "border-top pt-2 mt-2", "data-uuid": entry.uuid }, [
          element("div", { class: "fw-semibold", text: heading }),
          element("div", { text: t(entry.result === "conflict" ? "conflict" : "rejected") }),
          element("ul", { class: "small mb-0" }, errors),
        ])
      );
    });
  }

  function renderHome() {
    const select = $("wave");
    select.replaceChildren(
      ...state.waves.map((wave) =>
        element("option", { value: wave.id, text: wave.name, selected: wave.id === state.waveId })
      )
    );
    select.disabled = state.waves.length < 2;
    let status = state.wavesMessage;
    if (!status && !state.waves.length) {
      status = state.wavesLoadedAt ? t("no_waves") : t("waves_need_network");
    } else if (!status && state.wavesLoadedAt) {
      status = t("waves_loaded", { time: localTime(state.wavesLoadedAt) });
    }
    $("waves-status").textContent = status;

    const wave = currentWave();
    // A revoked tablet makes no new interviews: nothing it makes could be sent.
    $("wave-tools").hidden = !wave || Boolean(state.revoked);
    if (wave) {
      const strata = [];
      wave.settlements.forEach((place) => {
        let row = strata.find((s) => s.code === place.stratum);
        if (!row) {
          row = { code: place.stratum, places: [] };
          strata.push(row);
        }
        row.places.push(place.name);
      });
      $("strata").replaceChildren(
        ...strata.map((row) => {
          const names = row.places.slice(0, 3).join(", ") + (row.places.length > 3 ? ", …" : "");
          return element("tr", { "data-stratum": row.code }, [
            element("td", {}, [
              element("div", { text: row.code }),
              element("div", { class: "small text-muted", text: names }),
            ]),
            element("td", {
              class: "text-end fs-5",
              text: String(freeSlots(wave.id, row.code).length),
            }),
          ]);
        })
      );
      const chosen = $("reserve-place").value || state.lastPlace;
      $("reserve-place").replaceChildren(...placeOptions(wave, chosen));
    }
    renderQueue();
    renderNetwork();
  }

  function placeOptions(wave, chosen) {
    return wave.settlements.map((place) =>
      element("option", { value: place.code, text: place.name, selected: place.code === chosen })
    );
  }

  function render() {
    if (!state.token) {
      show("enrol");
      return;
    }
    if (state.current) {
      interviewResume();
      return;
    }
    renderHome();
    show("home");
  }

  /* ---- The API ---- */

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || "HTTP " + status);
      this.status = status;
      this.detail = detail;
    }
  }

  function sentences(data) {
    if (!data) {
      return "";
    }
    if (typeof data === "string") {
      return data;
    }
    if (Array.isArray(data)) {
      return data.map(sentences).join(" ");
    }
    if (typeof data === "object") {
      return data.detail ? sentences(data.detail) : Object.values(data).map(sentences).join(" ");
    }
    return String(data);
  }

  // A network failure rejects with a TypeError; any answer but a 2xx with a JSON body
  // rejects with an ApiError carrying the status and the server's sentence.
  async function api(url, body) {
    const headers = {
      Accept: "application/json",
      Authorization: "Token " + state.token,
      "Accept-Language": state.uiLanguage,
    };
    if (body) {
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, {
      method: body ? "POST" : "GET",
      headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (unreadable) {
      if (response.ok) {
        throw new TypeError("The answer was cut off.");
      }
    }
    if (response.status === 401) {
      await revokedSet(sentences(data) || "HTTP 401");
    }
    if (!response.ok) {
      throw new ApiError(response.status, sentences(data));
    }
    return data;
  }

  async function revokedSet(detail) {
    state.revoked = detail;
    await settingSet("revoked", detail);
  }

  /* ---- Registering the tablet ---- */

  function fragmentToken() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("token");
    if (!token) {
      return null;
    }
    // The token is not left in the address bar or the history.
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return { token: token.trim(), label: (params.get("label") || "").trim() };
  }

  async function enrol(token, label) {
    const changed = state.token && state.token !== token;
    await transact(["settings", "slots"], "readwrite", async (s) => {
      s.settings.put(token, "token");
      s.settings.put(label, "label");
      s.settings.delete("revoked");
      if (changed) {
        // Free slots were reserved for the old token; the server refuses them now.
        const slots = await done(s.slots.getAll());
        slots.filter((slot) => slot.state === "free").forEach((slot) => s.slots.delete(slot.id));
      }
    });
    await stateLoad();
    persistenceAsk();
    render();
    wavesRefresh();
    sync();
  }

  async function persistenceAsk() {
    if (!navigator.storage || !navigator.storage.persist) {
      return;
    }
    try {
      const kept = (await navigator.storage.persisted()) || (await navigator.storage.persist());
      $("storage-warning").hidden = kept;
    } catch (refused) {
      $("storage-warning").hidden = false;
    }
  }

  /* ---- Waves and reservations ---- */

  async function wavesRefresh() {
    if (!state.token || state.revoked || !navigator.onLine) {
      return;
    }
    try {
      const waves = await api(config.waves_url);
      // A wave that left fieldwork goes, unless an interview in it is under way.
      const underway = state.current ? state.current.wave : null;
      const kept = state.waves.filter(
        (wave) => wave.id === underway && !waves.some((w) => w.id === wave.id)
      );
      await transact(["waves", "settings"], "readwrite", async (s) => {
        await done(s.waves.clear());
        waves.concat(kept).forEach((wave) => s.waves.put(wave));
        s.settings.put(new Date().toISOString(), "wavesLoadedAt");
      });
      state.wavesMessage = "";
      await stateLoad();
    } catch (error) {
      // A 401 is shown in its own banner.
      const shown = error instanceof ApiError && error.status !== 401;
      state.wavesMessage = shown ? error.detail : "";
    }
    if (!$("screen-home").hidden) {
      renderHome();
    }
  }

  async function reserve(place, count) {
    const wave = currentWave();
    const status = $("reserve-status");
    status.className = "small mt-2 mb-0";
    $("reserve").disabled = true;
    try {
      const url = config.reservations_url.replace("/0/", "/" + wave.id + "/");
      const answer = await api(url, { place, count });
      await transact(["slots"], "readwrite", async (s) => {
        for (const slot of answer.slots) {
          const known = await done(s.slots.get(slot.id));
          if (!known) {
            s.slots.put(Object.assign({}, slot, { wave: wave.id, state: "free", uuid: null }));
          }
        }
      });
      await settingSet("lastPlace", place);
      state.lastPlace = place;
      await stateLoad();
      status.textContent = t("reserved", { n: answer.slots.length });
      if (answer.over_quota) {
        status.textContent += " " + t("over_quota");
        status.classList.add("text-danger");
      }
    } catch (error) {
      status.textContent = error instanceof ApiError ? error.detail : t("reserve_needs_network");
      status.classList.add("text-danger");
    }
    renderHome();
  }

  /* ---- The interview ---- */

  function registerShow(message, place, language) {
    const wave = currentWave();
    const chosenLanguage = language || state.lastLanguage;
    $("register-wave").textContent = wave.name;
    $("register-place").replaceChildren(...placeOptions(wave, place || state.lastPlace));
    $("register-language").replaceChildren(
      ...wave.languages.map((code) =>
        element("option", {
          value: code,
          text: config.languages[code] || code,
          selected: code === chosenLanguage,
        })
      )
    );
    $("register-consent").checked = false;
    $("register-error").hidden = !message;
    $("register-error").textContent = message || "";
    show("register");
  }

  async function interviewBegin(placeCode, language, consented) {
    const wave = currentWave();
    if (!consented) {
      renderHome();
      show("home", t("no_consent"), "warning");
      return;
    }
    const registeredAt = new Date().toISOString();
    const stratum = wave.settlements.find((s) => s.code === placeCode).stratum;
    const uuid = newUuid();

    // Registered first; only then is the slot taken, in the same transaction that
    // remembers the interview in progress.
    const current = await transact(["slots", "settings"], "readwrite", async (s) => {
      const slots = await done(s.slots.getAll());
      const slot = slots
        .filter((x) => x.wave === wave.id && x.stratum === stratum && x.state === "free")
        .sort((a, b) => a.position - b.position)[0];
      if (!slot) {
        return null;
      }
      s.slots.put(Object.assign({}, slot, { state: "taken", uuid }));
      const interview = {
        uuid,
        wave: wave.id,
        slot: slot.id,
        place: placeCode,
        language,
        registered_at: registeredAt,
        started_at: registeredAt,
        card_shown_at: null,
        status: null,
        count: null,
        counts: null,
        list_step: 0,
        step: "card",
      };
      s.settings.put(interview, "current");
      s.settings.put(placeCode, "lastPlace");
      s.settings.put(language, "lastLanguage");
      return interview;
    });
    if (!current) {
      registerShow(t("reserve_first"), placeCode, language);
      return;
    }
    state.current = current;
    await stateLoad();
    interviewResume();
  }

  function interviewResume() {
    const slot = state.slots.find((s) => s.id === state.current.slot);
    const wave = state.waves.find((w) => w.id === state.current.wave);
    if (!slot || !wave) {
      // The slot or the wave is gone from this tablet; nothing can be shown.
      state.current = null;
      transact(["settings"], "readwrite", (s) => done(s.settings.delete("current")));
      renderHome();
      show("home");
      return;
    }
    state.interviewLanguage = state.current.language;
    if (state.current.step === "questions") {
      questionsShow();
    } else {
      cardShow();
    }
  }

  // The slot's lists in the order they are asked: the wave's cards give it, since
  // the server may hand the slot's lists over in any order.
  function slotLists(wave, slot) {
    const codes = wave.cards.map((c) => c.code).filter((code) => code in slot.item_order);
    Object.keys(slot.item_order).forEach((code) => {
      if (!codes.includes(code)) {
        codes.push(code);
      }
    });
    return codes;
  }

  async function cardShow() {
    const current = state.current;
    const wave = state.waves.find((w) => w.id === current.wave);
    const slot = state.slots.find((s) => s.id === current.slot);
    const lists = slotLists(wave, slot);
    const listCode = lists[current.list_step || 0];
    const order = slot.item_order[listCode];
    const card = wave.cards.find((c) => c.code === listCode) || wave.cards[0];
    const texts = card.languages[current.language] || card.languages.en || {};
    const itemText = {};
    (texts.items || []).forEach((item) => {
      itemText[item.code] = item.text;
    });

    const step = $("list-step");
    step.hidden = lists.length < 2;
    step.dataset.list = listCode;
    step.textContent = t(
      "list_step",
      { number: (current.list_step || 0) + 1, lists: lists.length },
      current.language
    );
    $("card-instructions").textContent = texts.instructions || "";
    $("card-items").replaceChildren(
      ...order.map((code) => element("li", { "data-item": code, text: itemText[code] || code }))
    );
    const buttons = [];
    for (let n = 0; n <= order.length; n += 1) {
      buttons.push(
        element("input", {
          type: "radio",
          class: "btn-check",
          name: "outcome",
          id: "count-" + n,
          value: String(n),
          autocomplete: "off",
        }),
        element("label", {
          class: "btn btn-outline-primary btn-lg px-4 fs-3",
          for: "count-" + n,
          text: String(n),
        })
      );
    }
    $("count-buttons").replaceChildren(...buttons);
    $("count-form").reset();
    $("count-error").hidden = true;
    show("card");

    if (!current.card_shown_at) {
      current.card_shown_at = new Date().toISOString();
      await settingSet("current", current);
    }
  }

  // A double list's first count leads to the second list's card; a refusal, a
  // "don't know" or a break-off on either list ends the cards without a count.
  async function countSave(outcome) {
    const current = state.current;
    const wave = state.waves.find((w) => w.id === current.wave);
    const slot = state.slots.find((s) => s.id === current.slot);
    const lists = slotLists(wave, slot);
    const at = current.list_step || 0;
    if (/^\d+$/.test(outcome)) {
      current.status = "complete";
      if (lists.length > 1) {
        current.counts = Object.assign({}, current.counts, { [lists[at]]: Number(outcome) });
        current.count = null;
        if (at + 1 < lists.length) {
          current.list_step = at + 1;
          await settingSet("current", current);
          cardShow();
          return;
        }
      } else {
        current.count = Number(outcome);
      }
    } else {
      current.status = outcome;
      current.count = null;
      current.counts = null;
    }
    if (current.status === "broken_off") {
      await interviewSave({});
      return;
    }
    current.step = "questions";
    await settingSet("current", current);
    questionsShow();
  }

  function questionsShow() {
    const current = state.current;
    const wave = state.waves.find((w) => w.id === current.wave);
    const language = current.language;
    const label = (texts) => texts[language] || texts.en || Object.values(texts)[0] || "";
    const blocks = wave.questions.map((question) => {
      const text = label(question.texts || {}) || question.code;
      if (question.kind === "coded") {
        const options = question.choices.map((choice) => {
          const id = "q-" + question.code + "-" + choice.code;
          return element("div", { class: "form-check fs-5" }, [
            element("input", {
              class: "form-check-input",
              type: "radio",
              name: "q-" + question.code,
              id,
              value: choice.code,
            }),
            element("label", {
              class: "form-check-label",
              for: id,
              text: label(choice.labels || {}) || choice.code,
            }),
          ]);
        });
        return element("fieldset", { class: "mb-4", "data-question": question.code }, [
          element("legend", { class: "fs-5 fw-semibold", text }),
          ...options,
        ]);
      }
      const id = "q-" + question.code;
      return element("div", { class: "mb-4", "data-question": question.code }, [
        element("label", { class: "form-label fs-5 fw-semibold", for: id, text }),
        element("input", {
          class: "form-control form-control-lg",
          type: "number",
          inputmode: "decimal",
          step: "any",
          id,
          min: question.min,
          max: question.max,
        }),
        element("div", { class: "invalid-feedback" }),
      ]);
    });
    $("questions").replaceChildren(...blocks);
    show("questions");
  }

  function answersRead() {
    const wave = state.waves.find((w) => w.id === state.current.wave);
    const language = state.current.language;
    const answers = {};
    let valid = true;
    wave.questions.forEach((question) => {
      if (question.kind === "coded") {
        const name = CSS.escape("q-" + question.code);
        const checked = document.querySelector(`input[name="${name}"]:checked`);
        if (checked) {
          answers[question.code] = checked.value;
        }
        return;
      }
      const input = $("q-" + question.code);
      const feedback = input.nextElementSibling;
      input.classList.remove("is-invalid");
      if (input.value.trim() === "") {
        if (input.validity.badInput) {
          input.classList.add("is-invalid");
          feedback.textContent = t("number_invalid", null, language);
          valid = false;
        }
        return;
      }
      const number = Number(input.value);
      const low = question.min;
      const high = question.max;
      if (!Number.isFinite(number)) {
        feedback.textContent = t("number_invalid", null, language);
      } else if ((low !== null && number < low) || (high !== null && number > high)) {
        feedback.textContent = t("number_range", { min: low ?? "", max: high ?? "" }, language);
      } else {
        answers[question.code] = number;
        return;
      }
      input.classList.add("is-invalid");
      valid = false;
    });
    return valid ? answers : null;
  }

  async function interviewSave(answers) {
    const current = state.current;
    const complete = current.status === "complete";
    const item = {
      uuid: current.uuid,
      slot: current.slot,
      status: current.status,
      count: complete ? current.count : null,
      answers,
      place: current.place,
      language: current.language,
      registered_at: current.registered_at,
      card_shown_at: current.card_shown_at,
      started_at: current.started_at,
      finished_at: new Date().toISOString(),
    };
    if (current.counts) {
      item.counts = complete ? current.counts : null;
    }
    await transact(["queue", "slots", "settings"], "readwrite", async (s) => {
      const slot = await done(s.slots.get(current.slot));
      if (slot) {
        s.slots.put(Object.assign(slot, { state: "used", uuid: current.uuid }));
      }
      s.queue.put({ uuid: current.uuid, seq: Date.now(), wave: current.wave, item });
      s.settings.delete("current");
    });
    state.current = null;
    await stateLoad();
    show("done");
    if (navigator.onLine) {
      sync();
    }
  }

  /* ---- Sending ---- */

  const sender = window.TabletSending({
    batchSize: config.batch_size,
    allowed: () => Boolean(state.token && !state.revoked),
    post: (responses) => api(config.responses_url, { responses }),
    changed: async () => {
      if (!sender.status.running) {
        await stateLoad();
      }
      if ($("screen-home").hidden) {
        renderQueue();
      } else {
        renderHome();
      }
    },
  });

  function sync() {
    return sender.sync();
  }

  async function unsentExport() {
    const queued = await store.queueRead();
    const held = await store.attentionRead();
    const file = {
      format: "listexp-unsent-v1",
      exported_at: new Date().toISOString(),
      device_label: state.label,
      responses: queued.map((row) => row.item).concat(held.map((row) => row.item)),
    };
    const blob = new Blob([JSON.stringify(file, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const stamp = file.exported_at.slice(0, 19).replace(/[^0-9]/g, "");
    const name = (state.label || "tablet").replace(/[^\w-]+/g, "-");
    const link = element("a", { href: url, download: `unsent-interviews-${name}-${stamp}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60 * 1000);
  }

  /* ---- Wiring ---- */

  // A second tap while saving must not save twice.
  function whileBusy(button, work) {
    if (button) {
      button.disabled = true;
    }
    return work.finally(() => {
      if (button) {
        button.disabled = false;
      }
    });
  }

  function wire() {
    $("ui-language").replaceChildren(
      ...Object.keys(TEXTS).map((code) =>
        element("option", {
          value: code,
          text: config.languages[code] || code,
          selected: code === state.uiLanguage,
        })
      )
    );
    $("ui-language").addEventListener("change", async (event) => {
      state.uiLanguage = event.target.value;
      await settingSet("uiLanguage", state.uiLanguage);
      applyTexts();
      renderHome();
    });

    $("enrol-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("enrol-token");
      const token = input.value.trim();
      input.classList.toggle("is-invalid", !token);
      if (token) {
        enrol(token, $("enrol-label").value.trim());
      }
    });
    document.querySelectorAll("[data-action=export]").forEach((button) => {
      button.addEventListener("click", unsentExport);
    });
    document.querySelector("[data-action=enrol]").addEventListener("click", () => {
      $("enrol-token").value = "";
      $("enrol-label").value = state.label;
      show("enrol");
    });
    document.querySelectorAll("[data-action=home]").forEach((button) => {
      button.addEventListener("click", () => {
        renderHome();
        show("home");
      });
    });

    $("wave").addEventListener("change", async (event) => {
      state.waveId = Number(event.target.value);
      await settingSet("waveId", state.waveId);
      renderHome();
    });
    $("load-waves").addEventListener("click", wavesRefresh);
    $("send-now").addEventListener("click", () => {
      sender.reset();
      sync();
    });
    $("reserve-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const count = parseInt($("reserve-count").value, 10);
      if (count >= 1) {
        reserve($("reserve-place").value, count);
      }
    });

    $("new-interview").addEventListener("click", () => registerShow());
    $("next-interview").addEventListener("click", () => registerShow());
    $("register-form").addEventListener("submit", (event) => {
      event.preventDefault();
      interviewBegin(
        $("register-place").value,
        $("register-language").value,
        $("register-consent").checked
      );
    });
    $("count-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = $("count-form").querySelector("input[name=outcome]:checked");
      $("count-error").hidden = Boolean(chosen);
      if (chosen) {
        whileBusy(event.submitter, countSave(chosen.value));
      }
    });
    $("questions-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const answers = answersRead();
      if (answers) {
        whileBusy(event.submitter, interviewSave(answers));
      }
    });

    window.addEventListener("online", () => {
      renderNetwork();
      sender.reset();
      wavesRefresh();
      sync();
    });
    window.addEventListener("offline", renderNetwork);
    // A QR code opened while the page is already open changes only the fragment.
    window.addEventListener("hashchange", () => {
      const given = fragmentToken();
      if (given) {
        enrol(given.token, given.label || state.label);
      }
    });
    setInterval(() => {
      if (navigator.onLine && state.queueSize && sender.due()) {
        sync();
      }
    }, TICK_MS);
  }

  async function start() {
    wire();
    const given = fragmentToken();
    await stateLoad(true);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(config.sw_url, { scope: config.scope }).catch(() => {
        // Without a worker (plain HTTP) the app still works while online.
      });
    }
    if (given) {
      await enrol(given.token, given.label || state.label);
      return;
    }
    $("ui-language").value = state.uiLanguage;
    render();
    if (state.token) {
      persistenceAsk();
      if (navigator.onLine) {
        wavesRefresh();
        sync();
      }
    }
  }

  start();
})();
