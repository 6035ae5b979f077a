// Draws a cross-attention map (rows x cols weights) over an image: bilinear upsampling by
// the canvas; where the model looked glows warm, the rest is veiled dark.

function color(t) {
  const r = Math.min(1, 0.3 + 1.4 * t);
  const g = Math.min(1, Math.max(0, 1.6 * t - 0.35));
  const b = Math.min(1, Math.max(0, 2 * t - 1.2));
  return [r * 255, g * 255, b * 255];
}

export function drawHeatmap(canvas, map, rows, cols) {
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!map) return;
  let max = 1e-12;
  for (const v of map) max = Math.max(max, v);
  const small = document.createElement('canvas');
  small.width = cols;
  small.height = rows;
  const s = small.getContext('2d');
  const img = s.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const t = map[i] / max;
    const [r, gg, b] = color(t).map((c) => c * t); // black where unattended
    img.data.set([r, gg, b, Math.round(255 * (0.6 + 0.2 * t))], i * 4);
  }
  s.putImageData(img, 0, 0);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = 'high';
  g.drawImage(small, 0, 0, canvas.width, canvas.height);
}
