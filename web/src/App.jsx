import { useCallback, useEffect, useRef, useState } from 'react';
import { droppedFiles, fileEntries, prepareFile } from './decode.js';
import { startEngine } from './engine.js';
import BatchView, { altTag, useBatch } from './Batch.jsx';
import Boxes from './Boxes.jsx';
import { drawHeatmap } from './heatmap.js';
import Webcam from './Webcam.jsx';

const MB = (n) => (n / 1e6).toFixed(1);

// A phone or tablet (a finger, no mouse): the page says "tap", not "hover" or "drop".
function useCoarsePointer() {
  const query = '(pointer: coarse)';
  const [coarse, setCoarse] = useState(() => window.matchMedia?.(query).matches ?? false);
  useEffect(() => {
    const m = window.matchMedia?.(query);
    if (!m) return undefined;
    const change = () => setCoarse(m.matches);
    m.addEventListener('change', change);
    return () => m.removeEventListener('change', change);
  }, []);
  return coarse;
}

function Progress({ progress }) {
  const { loaded = 0, total = 0 } = progress || {};
  return (
    <div data-testid="progress" className="w-full max-w-md" role="status" aria-live="polite">
      <label className="block text-sm text-stone-600 mb-1" htmlFor="model-progress">
        Downloading the captioning model{total ? ` — ${MB(loaded)} of ${MB(total)} MB` : ` — ${MB(loaded)} MB`}
      </label>
      <progress id="model-progress" className="w-full h-2 accent-amber-600" max={total || 1} value={total ? loaded : 0} />
      <p className="text-xs text-stone-500 mt-1">Once, then it works offline. Your photos never leave this device.</p>
    </div>
  );
}

function ErrorBanner({ message, onRetry, onDismiss }) {
  const box = useRef(null);
  // The error takes focus, so a screen reader announces it and the keyboard is near its buttons.
  useEffect(() => box.current?.focus(), [message]);
  const button = 'rounded-md px-3 py-1.5 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500';
  return (
    <div ref={box} tabIndex={-1} data-testid="error" role="alert"
      className="flex flex-wrap items-center gap-3 rounded-lg border border-red-300 bg-red-50 px-4 py-3 text-red-900 focus:outline-none">
      <span className="flex-1 min-w-48">{message}</span>
      {onRetry && (
        <button type="button" onClick={onRetry} className={`${button} bg-red-700 text-white hover:bg-red-800`}>Try again</button>
      )}
      {onDismiss && (
        <button type="button" data-testid="dismiss" onClick={onDismiss}
          className={`${button} border border-red-300 bg-white text-red-900 hover:bg-red-100`}>Dismiss</button>
      )}
    </div>
  );
}

const MIN_TOKENS = 4;
const MAX_TOKENS = 30;
// A typed max length, or null while it is not (yet) a whole number in range: "1" on the way to "12".
const validLength = (text) => {
  const v = Number(text);
  return text !== '' && Number.isInteger(v) && v >= MIN_TOKENS && v <= MAX_TOKENS ? v : null;
};

function Settings({ settings, setSettings, result }) {
  // The field's own text, so a number can be typed digit by digit; the setting follows it when valid.
  const shown = (v) => (v == null ? '' : String(v)); // (null until the engine says its defaults)
  const [maxText, setMaxText] = useState(shown(settings.maxTokens));
  useEffect(() => setMaxText((t) => (validLength(t) === settings.maxTokens ? t : shown(settings.maxTokens))),
    [settings.maxTokens]);
  const layers = result?.attention.layers ?? 3;
  const heads = result?.attention.heads ?? 8;
  const field = 'flex flex-col gap-1 text-sm';
  const input = 'rounded-md border border-stone-300 bg-white px-2 py-1 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500';
  return (
    <fieldset className="grid grid-cols-2 sm:grid-cols-3 gap-3 rounded-lg border border-stone-200 bg-white p-3">
      <legend className="px-1 text-sm font-medium text-stone-600">Settings</legend>
      <label className={field}>Beam size
        <select className={input} value={shown(settings.beam)} onChange={(e) => setSettings({ ...settings, beam: +e.target.value })}>
          {[1, 2, 3, 4, 5].map((b) => <option key={b} value={b}>{b === 1 ? '1 (greedy)' : b}</option>)}
        </select>
      </label>
      <label className={field}>Max length
        <input className={input} type="number" min={MIN_TOKENS} max={MAX_TOKENS} value={maxText} data-testid="max-length"
          onChange={(e) => {
            setMaxText(e.target.value);
            const v = validLength(e.target.value);
            if (v != null) setSettings({ ...settings, maxTokens: v });
          }}
          onBlur={() => setMaxText(shown(settings.maxTokens))} />
      </label>
      <label className={field}>Attention layer
        <select className={input} value={settings.layer} onChange={(e) => setSettings({ ...settings, layer: +e.target.value })}>
          {Array.from({ length: layers }, (_, i) => <option key={i} value={i + 1}>{i + 1}</option>)}
        </select>
      </label>
      <label className={field}>Head
        <select className={input} value={settings.head} onChange={(e) => setSettings({ ...settings, head: +e.target.value })}>
          <option value={0}>average</option>
          {Array.from({ length: heads }, (_, i) => <option key={i} value={i + 1}>{i + 1}</option>)}
        </select>
      </label>
      <label className={field}>Heatmap opacity
        <input type="range" min={0} max={1} step={0.05} value={settings.opacity}
          onChange={(e) => setSettings({ ...settings, opacity: +e.target.value })} className="accent-amber-600" />
      </label>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" data-testid="boxes-toggle" checked={settings.boxes}
          onChange={(e) => setSettings({ ...settings, boxes: e.target.checked })} className="h-4 w-4 accent-amber-600" />
        Show detected objects
      </label>
    </fieldset>
  );
}

// Token indices grouped into words: a word ends with a token whose text ends with a space
// (BPE pieces such as "compu" + "ter" stay together and never wrap apart).
function wordsOf(tokens) {
  const words = [[]];
  tokens.forEach((t, i) => {
    words.at(-1).push(i);
    if (t.text.endsWith(' ') && i < tokens.length - 1) words.push([]);
  });
  return words.filter((w) => w.length);
}

function Caption({ partial, result, busy, waiting, touch, read, selected, setSelected }) {
  const [copied, setCopied] = useState('');
  const copy = async (what, text) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
      setTimeout(() => setCopied(''), 1500);
    } catch {
      setCopied('copy failed');
    }
  };
  const alt = result ? altTag('photo.jpg', result.caption) : '';
  return (
    <section className="rounded-lg border border-stone-200 bg-white p-4" aria-label="Caption">
      <div data-testid="caption" aria-live="polite" aria-busy={busy} className="min-h-20 text-xl leading-relaxed">
        {result ? (
          wordsOf(result.tokens).map((word) => (
            <span key={word[0]} className="inline-block whitespace-nowrap">
              {word.map((i, k) => {
                const t = result.tokens[i];
                const pad = `${k === 0 ? 'pl-0.5' : ''} ${k === word.length - 1 ? 'pr-0.5' : ''}`;
                return (
                  <button key={i} type="button" title={`p = ${(100 * t.p).toFixed(1)}%`}
                    onMouseEnter={() => setSelected(i)} onFocus={() => setSelected(i)} onClick={() => setSelected(i)}
                    aria-pressed={selected === i}
                    className={`group relative rounded ${pad} focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 ${selected === i ? 'bg-amber-200' : 'hover:bg-amber-100'}`}>
                    {t.text.trim()}
                    <span aria-hidden="true" className="pointer-events-none absolute -top-6 left-1/2 -translate-x-1/2 whitespace-nowrap rounded bg-stone-800 px-1.5 py-0.5 text-xs text-white opacity-0 group-hover:opacity-100 group-focus:opacity-100">
                      {(100 * t.p).toFixed(0)}%
                    </span>
                  </button>
                );
              })}
            </span>
          ))
        ) : (
          <span className={partial ? '' : 'text-stone-500'}>
            {partial || (busy ? 'Looking…' : waiting ? 'The model is still loading; the caption follows.' : touch ? 'Choose a photo to get its caption.' : 'Drop a photo to get its caption.')}
          </span>
        )}
      </div>
      {result?.concepts?.some((c) => c.p >= 0.01) && (
        <ul data-testid="concepts" aria-label="What the encoder recognizes (ImageNet classes)"
          className="mt-3 flex flex-wrap gap-1.5 text-xs">
          {result.concepts.filter((c) => c.p >= 0.01).map((c) => (
            <li key={c.label} title={`ImageNet class: ${c.label}`}
              className="rounded-full border border-stone-300 bg-stone-50 px-2 py-0.5 text-stone-700">
              {c.label.split(',')[0]} <span className="text-stone-500">{(100 * c.p).toFixed(0)}%</span>
            </li>
          ))}
        </ul>
      )}
      {result && (
        <div className="mt-3 flex flex-wrap items-center gap-2 text-sm">
          <p className="w-full text-stone-600">Full caption: <q>{result.caption}</q></p>
          <button type="button" onClick={() => copy('caption', result.caption)} className="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500">Copy caption</button>
          <button type="button" onClick={() => copy('alt', alt)} className="rounded-md border border-stone-300 px-3 py-1 hover:bg-stone-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500">Copy &lt;img alt&gt;</button>
          <span role="status" className="text-stone-500">{copied && (copied.startsWith('copy') ? copied : `Copied the ${copied}`)}</span>
          <p className="w-full text-xs text-stone-500" data-testid="timings">
            decode {result.timingsMs.decode.toFixed(0)} ms · encode {result.timingsMs.encode.toFixed(0)} ms{result.timingsMs.detect ? ` · detect ${result.timingsMs.detect.toFixed(0)} ms` : ''} · caption {result.timingsMs.caption.toFixed(0)} ms · total {result.timingsMs.total.toFixed(0)} ms{read ? ` · read ${read.width}×${read.height} px${read.how === 'browser' ? ', decoded by the browser' : ''}` : ''}
          </p>
        </div>
      )}
    </section>
  );
}

export default function App() {
  const [engine, setEngine] = useState(null);
  const [progress, setProgress] = useState(null);
  const [loadError, setLoadError] = useState('');
  const [error, setError] = useState(null); // {message, retry?}
  const [mode, setMode] = useState('image');
  const [image, setImage] = useState(null); // {url, width, height}
  const [partial, setPartial] = useState('');
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState(null);
  // beam and maxTokens: the engine's defaults (capt_caption_default_params in C), once it is loaded
  const [settings, setSettings] = useState({ beam: null, maxTokens: null, layer: 2, head: 0, opacity: 0.7, boxes: false });
  const overlay = useRef(null);
  const fileInput = useRef(null);
  const lastInput = useRef(null);
  const liveMode = useRef(false); // the webcam's live captions re-caption on their own
  const [attempt, setAttempt] = useState(0);
  const [engineRead, setEngineRead] = useState(null); // {width, height, how}: what the engine was given
  const touch = useCoarsePointer();

  useEffect(() => {
    let cancelled = false;
    let created = null;
    setLoadError('');
    setProgress({ loaded: 0, total: 0 });
    startEngine((p) => !cancelled && setProgress(p))
      .then((e) => {
        created = e;
        if (cancelled) e.dispose();
        else {
          setSettings((s) => ({ ...s, beam: s.beam ?? e.defaults.beam, maxTokens: s.maxTokens ?? e.defaults.maxTokens }));
          setEngine(e);
        }
      })
      .catch((err) => !cancelled && setLoadError(err.message || String(err)))
      .finally(() => !cancelled && setProgress(null));
    return () => {
      cancelled = true;
      created?.dispose();
    };
  }, [attempt]);

  // Every request is tagged: only the newest one may touch the caption, so a slow older
  // result or error never lands on a newer photo. A photo that arrives before the engine
  // is ready waits in `pending` and is captioned as soon as it is.
  const requestSeq = useRef(0);
  const pending = useRef(null);
  const [waiting, setWaiting] = useState(false);
  // The caption box emptied for a new photo, and the error with it.
  const clearCaption = useCallback(() => {
    setError(null);
    setPartial('');
    setResult(null);
    setSelected(null);
  }, []);
  // live: a webcam frame in live mode; the last caption stays until this one is complete.
  const caption = useCallback(async (input, { live = false } = {}) => {
    lastInput.current = input;
    const id = ++requestSeq.current;
    const current = () => id === requestSeq.current;
    if (live) setError(null);
    else clearCaption();
    if (!engine) {
      pending.current = input;
      setWaiting(true);
      return null;
    }
    pending.current = null;
    setWaiting(false);
    setBusy(true);
    try {
      const r = await engine.caption(input, { beam: settings.beam, maxTokens: settings.maxTokens,
        onToken: live ? undefined : (t) => current() && setPartial(t.partial) });
      if (current()) {
        if (live) setSelected(null);
        setResult(r);
      }
      return current() ? r : null;
    } catch (err) {
      if (current()) {
        setError({ message: `Could not caption this image: ${err.message || err}`, retry: () => caption(lastInput.current) });
      }
      return null;
    } finally {
      if (current()) setBusy(false);
    }
  }, [engine, settings.beam, settings.maxTokens, clearCaption]);

  // The engine is ready: caption the photo that waited for it. Settings changed: caption
  // the current photo again with them.
  const used = useRef({ engine: null, beam: settings.beam, maxTokens: settings.maxTokens });
  useEffect(() => {
    const before = used.current;
    used.current = { engine, beam: settings.beam, maxTokens: settings.maxTokens };
    if (!engine) return;
    if (pending.current) caption(pending.current);
    else if (before.engine === engine && lastInput.current && !liveMode.current
             && (before.beam !== settings.beam || before.maxTokens !== settings.maxTokens)) caption(lastInput.current);
  }, [engine, caption, settings.beam, settings.maxTokens]);

  // A chosen, dropped or pasted file: shown as the browser shows it, captioned from what
  // decode.js hands the engine (the file itself, or the browser's pixels). The old
  // caption goes at once (the browser's decode of a large photo takes a moment), and a
  // file opened later wins over one still being decoded.
  const openSeq = useRef(0);
  const openFile = useCallback(async (file) => {
    if (!file) return;
    const seq = ++openSeq.current;
    requestSeq.current++; // an older photo's caption, still in the worker, is dropped
    setBusy(false);
    clearCaption();
    let ready;
    try {
      ready = await prepareFile(file);
    } catch (err) {
      if (seq === openSeq.current) setError({ message: err.message || String(err) });
      return;
    }
    if (seq !== openSeq.current) {
      URL.revokeObjectURL(ready.url);
      return;
    }
    setImage((old) => {
      if (old?.url?.startsWith('blob:')) URL.revokeObjectURL(old.url);
      return { url: ready.url, ...ready.shown };
    });
    setEngineRead(ready.read);
    setMode('image');
    await caption(ready.input);
  }, [caption, clearCaption]);

  // Many photos or a folder go to the batch list; one photo to the image view.
  const batch = useBatch(engine, { beam: settings.beam, maxTokens: settings.maxTokens });
  const addToBatch = batch.add;
  const openFiles = useCallback((files, fromFolder = false) => {
    if (files.length === 1 && !fromFolder) {
      openFile(files[0].file);
      return;
    }
    addToBatch(files, { fromFolder });
    setError(null);
    setMode('batch');
  }, [openFile, addToBatch]);

  // drag-and-drop anywhere on the page, and paste
  useEffect(() => {
    const over = (e) => e.preventDefault();
    const drop = async (e) => {
      e.preventDefault();
      const items = e.dataTransfer?.items;
      const { files, folder } = items?.length ? await droppedFiles(items) : { files: [] };
      if (files.length) openFiles(files, folder);
    };
    const paste = (e) => {
      const files = fileEntries([...(e.clipboardData?.items || [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile())
        .filter(Boolean));
      if (files.length) openFiles(files);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    window.addEventListener('paste', paste);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
      window.removeEventListener('paste', paste);
    };
  }, [openFiles]);

  // the heatmap of the selected word
  useEffect(() => {
    const c = overlay.current;
    if (!c) return;
    const a = result?.attention;
    const layer = Math.min(settings.layer, a?.layers ?? 1) - 1;
    const map = a && selected != null ? (settings.head ? a.maps[layer][settings.head - 1][selected] : a.mean[layer][selected]) : null;
    drawHeatmap(c, map, a?.grid[0] ?? 7, a?.grid[1] ?? 7);
  }, [result, selected, settings.layer, settings.head, image]);

  // the detected objects, and the selected word's attention to each
  const boxes = settings.boxes && result?.detections?.length ? (
    <Boxes detections={result.detections}
      weights={selected != null ? result.attention.detections[Math.min(settings.layer, result.attention.layers) - 1][selected] : null} />
  ) : null;

  // A captured frame is shown at once; in live mode a frame is shown with its caption.
  const onFrame = useCallback(async (frame, shownUrl, live) => {
    const shown = { url: shownUrl, width: frame.width, height: frame.height };
    setEngineRead({ width: frame.width, height: frame.height, how: 'camera' });
    if (!live) {
      setImage(shown);
      return caption(frame);
    }
    const r = await caption(frame, { live: true });
    if (r) setImage(shown);
    return r;
  }, [caption]);

  // The input tabs (WAI-ARIA tabs pattern): one tab stop, arrow keys / Home / End move and select.
  const MODES = [['image', 'Image'], ['batch', 'Batch'], ['webcam', 'Webcam']];
  const selectMode = (id, focus = false) => {
    setMode(id);
    setError(null);
    if (focus) document.getElementById(`tab-${id}`)?.focus();
  };
  const onTabKey = (e) => {
    const i = MODES.findIndex(([id]) => id === mode);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: MODES.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    selectMode(MODES[(to + MODES.length) % MODES.length][0], true);
  };
  const tab = (id, label) => (
    <button key={id} id={`tab-${id}`} type="button" role="tab" aria-selected={mode === id} aria-controls={`panel-${id}`}
      tabIndex={mode === id ? 0 : -1} data-testid={`mode-${id}`} onClick={() => selectMode(id)} onKeyDown={onTabKey}
      className={`rounded-md px-4 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 ${mode === id ? 'bg-stone-900 text-white' : 'bg-white text-stone-700 border border-stone-300 hover:bg-stone-100'}`}>
      {label}
    </button>
  );

  return (
    <div className="mx-auto flex min-h-screen max-w-5xl flex-col gap-4 p-4 sm:p-6">
      <header className="flex flex-wrap items-end justify-between gap-2">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">capt</h1>
          <p className="text-sm text-stone-600">Captions and alt text, computed in your browser. Your photos stay on this device.</p>
        </div>
        <div role="tablist" aria-label="Input" className="flex gap-2">
          {MODES.map(([id, label]) => tab(id, label))}
        </div>
      </header>

      {progress && <Progress progress={progress} />}
      {loadError && <ErrorBanner message={`The captioning model could not be loaded: ${loadError}`}
        onRetry={() => setAttempt((n) => n + 1)} onDismiss={() => setLoadError('')} />}
      {error && <ErrorBanner message={error.message} onRetry={error.retry} onDismiss={() => setError(null)} />}

      <main className="grid gap-4 md:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <div id={`panel-${mode}`} role="tabpanel" aria-labelledby={`tab-${mode}`} className="flex flex-col gap-3">
          {mode === 'image' ? (
            <div data-testid="dropzone"
              className="relative flex min-h-64 items-center justify-center overflow-hidden rounded-xl border-2 border-dashed border-stone-300 bg-white">
              {image ? (
                <div className="relative w-full">
                  <img src={image.url} alt={result?.caption || 'The photo being captioned'} className="block w-full" />
                  <canvas ref={overlay} data-testid="attention-overlay" width={224} height={224} aria-hidden="true"
                    style={{ opacity: settings.opacity }} className="pointer-events-none absolute inset-0 h-full w-full" />
                  {boxes}
                </div>
              ) : (
                <p className="p-8 text-center text-stone-600">{touch ? 'Tap “Choose a photo…” to pick one or take one with the camera.' : 'Drop a photo anywhere, paste one, or choose a file.'}</p>
              )}
            </div>
          ) : mode === 'batch' ? (
            <BatchView batch={batch} engineReady={!!engine} touch={touch} />
          ) : (
            <Webcam onFrame={onFrame} disabled={!engine} onError={(message, retry) => setError({ message, retry })}
              onLiveChange={(on) => { liveMode.current = on; }}
              overlay={overlay} image={image} opacity={settings.opacity} boxes={boxes} />
          )}
          {mode === 'image' && (
            <div className="flex items-center gap-3">
              <label className="cursor-pointer rounded-md bg-amber-700 px-4 py-2 text-sm font-medium text-white hover:bg-amber-800 focus-within:ring-2 focus-within:ring-amber-500">
                Choose a photo…
                <input ref={fileInput} data-testid="file-input" type="file" accept="image/*" multiple className="sr-only"
                  onChange={(e) => { openFiles(fileEntries(e.target.files || [])); e.target.value = ''; }} />
              </label>
              <span className="text-xs text-stone-600">JPEG, PNG, WebP, AVIF, GIF, BMP or SVG</span>
            </div>
          )}
        </div>
        <div className="flex flex-col gap-3">
          {mode !== 'batch' && <Caption partial={partial} result={result} busy={busy} waiting={waiting} touch={touch} read={engineRead} selected={selected} setSelected={setSelected} />}
          {result && mode !== 'batch' && <p className="text-xs text-stone-600">{touch ? 'Tap a word' : 'Hover or focus a word'} to see where the model looked for it.</p>}
          <Settings settings={settings} setSettings={setSettings} result={result} />
        </div>
      </main>
      <footer className="mt-auto text-xs text-stone-500">
        MobileNetV2 encoder (Apache-2.0), CenterNet object detector (MIT) and a decoder trained on Flickr8k (research use). Runs on WebAssembly; works offline once loaded.
        {engine && (
          <span data-testid="engine">
            {' '}Engine: {engine.variant === 'threads' ? `SIMD, ${engine.threads} threads` : engine.variant === 'simd' ? 'SIMD, 1 thread' : 'no SIMD, 1 thread'}.
          </span>
        )}
      </footer>
    </div>
  );
}
