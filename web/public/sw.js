// sw.js — keeps capt working offline: on install it caches the app's files (listed in
// sw-manifest.json, written at build time); afterwards every same-origin GET is answered
// from the cache first and cached when it comes from the network (the model file too).
const CACHE = 'capt-v1';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    try {
      const files = await (await fetch('./sw-manifest.json', { cache: 'no-store' })).json();
      await cache.addAll(['./', ...files]);
    } catch {
      // a dev server has no manifest: files are cached as they are used
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(req, { ignoreSearch: true });
    if (hit) return hit;
    const response = await fetch(req);
    if (response.ok && response.type === 'basic') cache.put(req, response.clone());
    return response;
  })());
});
