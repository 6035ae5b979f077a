import { useCallback, useEffect, useRef, useState } from 'react';
import { fileEntries, looksLikeImage, prepareFile } from './decode.js';

// Batch mode: many photos (files or a folder) captioned one after another, each with a
// thumbnail, a status and its caption; progress, cancel, and export as CSV or JSON (file,
// caption, alt: an <img> tag with the caption as its alt text).

// An attribute value in double quotes needs & and " escaped.
const escapeAttribute = (text) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
/** An <img> tag for the photo at `path` with the caption as its alt text (the page's "Copy <img alt>" too). */
export const altTag = (path, caption) => `<img src="${escapeAttribute(path)}" alt="${escapeAttribute(caption)}">`;

/** The finished rows as export records: {file, caption, alt, status, error}. */
export function exportRecords(items) {
  return items.filter((i) => i.status === 'done' || i.status === 'error').map((i) => ({
    file: i.path, caption: i.caption ?? '', alt: i.caption ? altTag(i.path, i.caption) : '', status: i.status,
    error: i.error ?? '' }));
}

// RFC 4180 fields; a leading = + - @ is quoted with an apostrophe so a spreadsheet does not
// run a file name as a formula.
const csvField = (v) => {
  const s = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
export function toCsv(records) {
  const cols = ['file', 'caption', 'alt', 'status', 'error'];
  return [cols.join(','), ...records.map((r) => cols.map((c) => csvField(r[c])).join(','))].join('\r\n') + '\r\n';
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The batch queue: photos wait, then go to the engine one at a time (so cancel stops the rest at once). */
export function useBatch(engine, options) {
  const [items, setItems] = useState([]);
  const queue = useRef([]);
  const running = useRef(false);
  const nextId = useRef(1);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const update = (id, patch) => setItems((list) => list.map((it) => (it.id === id ? { ...it, ...patch } : it)));

  const pump = useCallback(async () => {
    if (running.current || !engine) return;
    running.current = true;
    try {
      while (queue.current.length) {
        const { id, file } = queue.current.shift();
        update(id, { status: 'working' });
        let ready = null;
        try {
          ready = await prepareFile(file);
          const r = await engine.caption(ready.input, { beam: optionsRef.current.beam, maxTokens: optionsRef.current.maxTokens });
          update(id, { status: 'done', caption: r.caption });
        } catch (err) {
          update(id, { status: 'error', error: err.message || String(err) });
        } finally {
          if (ready) URL.revokeObjectURL(ready.url);
        }
      }
    } finally {
      running.current = false;
    }
  }, [engine]);

  useEffect(() => { pump(); }, [pump]);

  // entries: [{file, path}]; from a folder only the images count (not its notes or .DS_Store).
  const add = useCallback((entries, { fromFolder = false } = {}) => {
    const fresh = entries.filter(({ file }) => !fromFolder || looksLikeImage(file)).map(({ file, path }) => ({
      id: nextId.current++, file, path: path || file.name, thumb: URL.createObjectURL(file), status: 'queued' }));
    queue.current.push(...fresh);
    setItems((list) => [...list, ...fresh.map(({ file, ...rest }) => rest)]);
    pump();
    return fresh.length;
  }, [pump]);

  const cancel = useCallback(() => {
    const ids = new Set(queue.current.map((q) => q.id));
    queue.current = [];
    setItems((list) => list.map((it) => (ids.has(it.id) ? { ...it, status: 'cancelled' } : it)));
  }, []);

  const clear = useCallback(() => {
    cancel();
    setItems((list) => {
      list.forEach((it) => URL.revokeObjectURL(it.thumb));
      return [];
    });
  }, [cancel]);

  return { items, add, cancel, clear };
}

const STATUS = { queued: 'Waiting', working: 'Captioning…', done: 'Done', error: 'Failed', cancelled: 'Cancelled' };

export default function BatchView({ batch, engineReady, touch }) {
  const { items, add, cancel, clear } = batch;
  const finished = items.filter((i) => i.status !== 'queued' && i.status !== 'working').length;
  const waiting = items.filter((i) => i.status === 'queued' || i.status === 'working').length;
  const records = exportRecords(items);
  const button = 'rounded-md px-3 py-1.5 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 disabled:opacity-50';
  const choose = (e, fromFolder) => {
    add(fileEntries(e.target.files || []), { fromFolder });
    e.target.value = '';
  };
  return (
    <section data-testid="batch" aria-label="Batch" className="flex flex-col gap-3 rounded-xl border border-stone-200 bg-white p-3">
      <div className="flex flex-wrap items-center gap-2">
        <label className={`${button} cursor-pointer bg-amber-700 text-white hover:bg-amber-800 focus-within:ring-2 focus-within:ring-amber-500`}>
          Choose photos…
          <input data-testid="batch-files" type="file" accept="image/*" multiple className="sr-only" onChange={(e) => choose(e, false)} />
        </label>
        <label className={`${button} cursor-pointer border border-stone-300 bg-white text-stone-800 hover:bg-stone-100 focus-within:ring-2 focus-within:ring-amber-500`}>
          Choose a folder…
          <input data-testid="batch-folder" type="file" webkitdirectory="" multiple className="sr-only" onChange={(e) => choose(e, true)} />
        </label>
        <button type="button" data-testid="batch-cancel" disabled={!waiting} onClick={cancel}
          className={`${button} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100`}>Cancel</button>
        <button type="button" data-testid="export-csv" disabled={!records.length}
          onClick={() => download('captions.csv', 'text/csv', toCsv(records))}
          className={`${button} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100`}>Export CSV</button>
        <button type="button" data-testid="export-json" disabled={!records.length}
          onClick={() => download('captions.json', 'application/json', `${JSON.stringify(records, null, 2)}\n`)}
          className={`${button} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100`}>Export JSON</button>
        <button type="button" data-testid="batch-clear" disabled={!items.length} onClick={clear}
          className={`${button} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100`}>Clear</button>
      </div>
      {items.length > 0 ? (
        <div role="status" aria-live="polite" className="flex items-center gap-3 text-sm text-stone-700">
          <progress data-testid="batch-progress" className="h-2 flex-1 accent-amber-600" max={items.length} value={finished}
            aria-label="Batch progress" />
          <span data-testid="batch-count">{finished} of {items.length} finished{!engineReady && waiting ? ' (the model is still loading)' : ''}</span>
        </div>
      ) : (
        <p className="text-sm text-stone-600">
          {touch ? 'Choose several photos or a folder' : 'Drop several photos or a folder anywhere, or choose them'}: each gets a caption and alt text, all on this device.
        </p>
      )}
      <ul data-testid="batch-list" className="flex flex-col divide-y divide-stone-200">
        {items.map((it) => (
          <li key={it.id} data-status={it.status} className="flex items-center gap-3 py-2">
            <img src={it.thumb} alt="" className="h-14 w-14 flex-none rounded object-cover bg-stone-100"
              onError={(e) => { e.currentTarget.style.visibility = 'hidden'; }} />
            <div className="min-w-0 flex-1">
              <p className="truncate text-sm font-medium text-stone-800" title={it.path}>{it.path}</p>
              <p className={`text-sm ${it.status === 'error' ? 'text-red-800' : 'text-stone-700'}`}>
                {it.status === 'done' ? it.caption : it.status === 'error' ? it.error : STATUS[it.status]}
              </p>
            </div>
            <span className="flex-none text-xs text-stone-600">{STATUS[it.status]}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
