// The objects the detector found and the decoder read (docs/detector.md), drawn over the
// photo: one labelled box each; while a word is selected, the boxes it attended to most
// stand out (their share of the word's cross-attention sets the stroke).

const pct = (v) => `${(100 * v).toFixed(2)}%`;

export default function Boxes({ detections, weights }) {
  if (!detections?.length) return null;
  const max = weights ? Math.max(1e-9, ...weights) : 0;
  return (
    <svg data-testid="boxes" className="pointer-events-none absolute inset-0 h-full w-full" role="img"
      aria-label={`Detected objects: ${detections.map((d) => `${d.label} ${(100 * d.score).toFixed(0)}%`).join(', ')}`}>
      {detections.map((d, i) => {
        const [x0, y0, x1, y1] = d.box;
        const strength = weights ? weights[i] / max : 1;
        return (
          <g key={i} opacity={weights ? 0.35 + 0.65 * strength : 1}>
            <rect x={pct(x0)} y={pct(y0)} width={pct(Math.max(0, x1 - x0))} height={pct(Math.max(0, y1 - y0))}
              fill="none" stroke={weights && strength > 0.6 ? '#fbbf24' : '#f8fafc'}
              strokeWidth={weights ? 1.5 + 2 * strength : 2} />
            <text x={pct(x0)} y={pct(y0)} dx="4" dy="14" fontSize="12" fill="#f8fafc" stroke="#1c1917" strokeWidth="3"
              paintOrder="stroke">
              {d.label} {(100 * d.score).toFixed(0)}%
            </text>
          </g>
        );
      })}
    </svg>
  );
}
