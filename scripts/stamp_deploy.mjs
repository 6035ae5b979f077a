// Stamps a built site (web/dist) as one deploy: sw-manifest.json lists the files the
// service worker precaches, the model file, and a version (a hash of every file's
// content); sw.js gets that version, so a new deploy is a new service worker with its own
// cache and returning visitors are moved to it.
// Usage: node scripts/stamp_deploy.mjs DIR
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const SELF = new Set(['sw.js', 'sw-manifest.json']);

function listFiles(dir, prefix = '') {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

export function stampDeploy(dir) {
  const files = listFiles(dir).filter((f) => !SELF.has(f)).sort();
  const models = files.filter((f) => f.endsWith('.capt'));
  if (models.length !== 1) throw new Error(`${dir}: expected one .capt model file, found ${models.length}`);
  const all = createHash('sha256');
  for (const f of files) all.update(`${f}\0${createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')}\n`);
  const version = all.digest('hex').slice(0, 16);
  // The model is not precached: the page's own download caches it (it is transferred once).
  const manifest = { version, model: models[0], files: files.filter((f) => f !== models[0]) };
  writeFileSync(path.join(dir, 'sw-manifest.json'), JSON.stringify(manifest));
  const sw = path.join(dir, 'sw.js');
  const source = readFileSync(sw, 'utf8');
  const stamped = source.replace(/^const VERSION = '[^']*';/m, `const VERSION = '${version}';`);
  if (stamped === source && !source.includes(`const VERSION = '${version}';`)) throw new Error(`${sw}: no VERSION line`);
  writeFileSync(sw, stamped);
  return manifest;
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const m = stampDeploy(path.resolve(process.argv[2] || 'web/dist'));
  console.log(`deploy ${m.version}: ${m.files.length} files precached, model ${m.model}`);
}
