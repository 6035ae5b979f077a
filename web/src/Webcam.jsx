import { useCallback, useEffect, useRef, useState } from 'react';

// The webcam view: camera selection, a capture button, and a live mode that captions one
// frame at a time (the next frame is taken only when the last caption is done, so work
// never piles up).
export default function Webcam({ onFrame, disabled, onError, onLiveChange, overlay, image, opacity, boxes }) {
  const video = useRef(null);
  const [devices, setDevices] = useState([]);
  const [deviceId, setDeviceId] = useState('');
  // Front or back camera (phones): by facing mode, until a camera is picked by name.
  const [facing, setFacing] = useState('user');
  const canFace = !!navigator.mediaDevices?.getSupportedConstraints?.().facingMode;
  const [live, setLive] = useState(false);
  const [ready, setReady] = useState(false);
  const [restart, setRestart] = useState(0);
  const liveRef = useRef(false);
  // The parent passes new callbacks on every render; the camera and the live loop must not restart for that.
  const onErrorRef = useRef(onError);
  onErrorRef.current = onError;
  const onLiveChangeRef = useRef(onLiveChange);
  onLiveChangeRef.current = onLiveChange;

  useEffect(() => {
    let stream = null;
    let stopped = false;
    setReady(false);
    (async () => {
      try {
        if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser gives pages no camera access.');
        stream = await navigator.mediaDevices.getUserMedia({
          video: deviceId ? { deviceId: { exact: deviceId } } : canFace ? { facingMode: facing } : true, audio: false });
        if (stopped) return;
        video.current.srcObject = stream;
        await video.current.play().catch(() => {});
        const all = await navigator.mediaDevices.enumerateDevices();
        setDevices(all.filter((d) => d.kind === 'videoinput'));
        setReady(true);
      } catch (err) {
        const denied = err?.name === 'NotAllowedError' || err?.name === 'SecurityError';
        const absent = err?.name === 'NotFoundError' || err?.name === 'OverconstrainedError';
        onErrorRef.current(denied ? 'Camera access was denied. Allow it in the browser to caption webcam frames.'
          : absent ? 'No camera was found.' : `The camera could not start: ${err?.message || err}`,
        () => setRestart((n) => n + 1));
      }
    })();
    return () => {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [deviceId, facing, canFace, restart]);

  const grab = useCallback(() => {
    const v = video.current;
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    return { frame: g.getImageData(0, 0, c.width, c.height), url: c.toDataURL('image/jpeg', 0.85) };
  }, []);

  const captureOnce = useCallback(async () => {
    const shot = grab();
    if (shot) await onFrame(shot.frame, shot.url);
  }, [grab, onFrame]);

  useEffect(() => {
    liveRef.current = live;
    onLiveChangeRef.current?.(live);
    if (!live) return;
    let cancelled = false;
    (async () => {
      while (liveRef.current && !cancelled) {
        const shot = grab();
        if (shot) await onFrame(shot.frame, shot.url, true);
        await new Promise((r) => requestAnimationFrame(r));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [live, grab, onFrame]);
  useEffect(() => () => onLiveChangeRef.current?.(false), []); // leaving the webcam view ends live mode

  const button = 'rounded-md px-4 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-amber-500 disabled:opacity-50';
  return (
    <div className="flex flex-col gap-3">
      {/* a fixed box: the page must not jump when the stream starts */}
      <video ref={video} muted playsInline className="aspect-video w-full rounded-xl bg-black object-contain" aria-label="Camera preview" />
      <div className="flex flex-wrap items-center gap-3">
        <button type="button" data-testid="capture" disabled={disabled || !ready || live} onClick={captureOnce}
          className={`${button} bg-amber-700 text-white hover:bg-amber-800`}>Capture</button>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" data-testid="live-toggle" checked={live} disabled={disabled || !ready}
            onChange={(e) => setLive(e.target.checked)} className="h-4 w-4 accent-amber-600" />
          Live captions
        </label>
        {canFace && (
          <button type="button" data-testid="switch-camera" disabled={!ready} aria-pressed={facing === 'environment'}
            onClick={() => { setDeviceId(''); setFacing((f) => (f === 'user' ? 'environment' : 'user')); }}
            className={`${button} border border-stone-300 bg-white text-stone-800 hover:bg-stone-100`}>
            {facing === 'user' ? 'Use the back camera' : 'Use the front camera'}
          </button>
        )}
        {devices.length > 1 && (
          <label className="flex items-center gap-2 text-sm">Camera
            <select value={deviceId} onChange={(e) => setDeviceId(e.target.value)} className="rounded-md border border-stone-300 bg-white px-2 py-1">
              {devices.map((d, i) => <option key={d.deviceId || i} value={d.deviceId}>{d.label || `Camera ${i + 1}`}</option>)}
            </select>
          </label>
        )}
      </div>
      {image && (
        <div className="relative w-full max-w-sm">
          <img src={image.url} alt="The captured frame" className="block w-full rounded-lg" />
          <canvas ref={overlay} data-testid="attention-overlay" width={224} height={224} aria-hidden="true"
            style={{ opacity }} className="pointer-events-none absolute inset-0 h-full w-full" />
          {boxes}
        </div>
      )}
    </div>
  );
}
