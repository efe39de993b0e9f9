// The device shell's service worker (its constants are prepended by /sw.js).
//
// Install: pre-cache the shell, the bus client, the app listing and every app's UI files
// into a cache named after PEEK_VERSION. Activate: drop every older Peek cache and take over
// open pages. Fetch: same-origin GETs go to the network first, revalidating (so a running
// client service always serves fresh files) and fall back to the cache when the network fails; every good
// answer refreshes the cache. A navigation with no network and nothing cached for its URL
// gets the shell page, which is the same for every app path.

/* global PEEK_SITE, PEEK_VERSION, PEEK_PRECACHE */
/// <reference lib="webworker" />

/** @type {ServiceWorkerGlobalScope} */
const sw = /** @type {any} */ (self);
const CACHE = `peek-${PEEK_SITE}-${PEEK_VERSION}`;

sw.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One by one: a single missing file must not leave the app without offline support.
    await Promise.all(PEEK_PRECACHE.map(async (/** @type {string} */ url) => {
      try {
        const response = await fetch(url, { cache: "no-cache" });
        if (response.ok) await cache.put(url, response);
      } catch (error) {
        console.warn("peek sw: not cached:", url, error);
      }
    }));
    await sw.skipWaiting();
  })());
});

sw.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(`peek-${PEEK_SITE}-`) && name !== CACHE) await caches.delete(name);
    }
    await sw.clients.claim();
  })());
});

/**
 * The network's answer (cached when good), else the cached one.
 * @param {Request} request
 * @returns {Promise<Response>}
 */
async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    // Revalidated (a cheap 304 when unchanged): the HTTP cache's heuristic freshness must
    // not hide a file that changed on the client service.
    const response = await fetch(request, { cache: "no-cache" });
    if (response.ok && response.type === "basic") {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    if (request.mode === "navigate") {
      const shell = await cache.match("/");
      if (shell) return shell;
    }
    throw error;
  }
}

sw.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== sw.location.origin) return;
  if (url.pathname === "/sw.js" || url.pathname.startsWith("/vortexws")) return;
  event.respondWith(networkFirst(request));
});
