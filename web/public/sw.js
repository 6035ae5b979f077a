// sw.js — keeps capt working offline and up to date. Each deploy is stamped with a version
// (scripts/stamp_deploy.mjs), so a new deploy installs a new service worker with its own
// cache `capt-VERSION`: on install it caches the files of sw-manifest.json (content-hashed
// names, and the model, are copied from the old cache instead of downloaded again), on
// activation it deletes the older caches. The page itself (navigations, index.html) is
// fetched from the network first, so a returning visitor gets the new deploy, and from
// the cache when offline; everything else has a content hash in its name and is answered
// from the cache first.
const VERSION = 'dev';
const CACHE = `capt-${VERSION}`;

// Names with a content hash (Vite's assets, the model) never change content.
const immutable = (rel) => rel.startsWith('assets/') || rel.endsWith('.capt');

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    try {
      const manifest = await (await fetch('./sw-manifest.json', { cache: 'no-store' })).json();
      await cache.add(new Request('./', { cache: 'no-cache' }));
      for (const rel of [...manifest.files, manifest.model]) {
        const old = immutable(rel) ? await caches.match(rel) : null;
        if (old) await cache.put(rel, old);
        else if (rel !== manifest.model) await cache.add(new Request(rel, { cache: 'no-cache' }));
      }
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

async function networkFirst(req) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(req, { cache: 'no-cache' });
    if (response.ok && response.type === 'basic') await cache.put(req, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(req, { ignoreSearch: true });
    if (hit) return hit;
    throw err;
  }
}

async function cacheFirst(req) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(req, { ignoreSearch: true });
  if (hit) return hit;
  const response = await fetch(req);
  if (response.ok && response.type === 'basic') await cache.put(req, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  const rel = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  event.respondWith(req.mode === 'navigate' || !immutable(rel) ? networkFirst(req) : cacheFirst(req));
});
