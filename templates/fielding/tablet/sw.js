// The offline tablet's service worker, rendered by fielding/tablet_views.py.
//
// On install it stores the page, its script, Bootstrap and the icons in a cache named
// after the app's version, and serves them from there first. Nothing else is ever
// answered from a cache: API calls go to the network untouched, because the app keeps
// the API's data in IndexedDB itself and a stale answer there would be a wrong one.
"use strict";

const PREFIX = "listexp-tablet-";
const CACHE = PREFIX + "{{ version }}";
const PRECACHE = {{ precache|safe }};
const PAGE = {{ page_url|safe }};

self.addEventListener("install", (event) => {
  const requests = PRECACHE.map((url) => new Request(url, { cache: "reload" }));
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(requests))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith(PREFIX) && name !== CACHE)
            .map((name) => caches.delete(name))
        )
      )
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  // The page is one document whatever its query or fragment (the token comes in
  // the fragment, which never reaches here).
  const key = request.mode === "navigate" && url.pathname === PAGE ? PAGE : url.pathname;
  if (!PRECACHE.includes(key)) {
    return;
  }
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(key, { ignoreSearch: true, ignoreVary: true }))
      .then((cached) => cached || fetch(request))
  );
});
