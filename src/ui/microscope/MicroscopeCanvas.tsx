// One heatmap of the sparsity microscope: a canvas painted one CSS pixel at a time from the mask
// pyramid (maskGrid.ts), so a frame costs the same for a 64 × 64 and a 4096 × 11008 matrix. Wheel
// or +/− zooms around the pointer, dragging or the arrow keys pan, 0 fits the matrix. Zoomed in
// far enough to see single entries, lines mark entries and (for N:M) the groups. Optional strips
// along the left and top show the kept density of the rows and columns in view.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fitView, panBy, type Size, zoomAt } from '../shell/viewport';
import { COLORS, type View } from './maskGrid';

export interface MicroscopeCanvasProps {
  rows: number;
  cols: number;
  /** Null: fit the matrix (the canvas proposes the fitted view through onView). */
  view: View | null;
  onView: (view: View, size: Size) => void;
  /** RGBA pixels of the view, width × height. */
  paint: (view: View, width: number, height: number) => Uint8ClampedArray;
  /** Per-row and per-column density of what each pixel covers, for the strips. */
  strips?: {
    rows: (view: View, height: number) => Float32Array;
    cols: (view: View, width: number) => Float32Array;
  };
  /** Draw group boundaries every this many columns when zoomed in (N:M). */
  groupWidth?: number;
  onHover?: (entry: { row: number; col: number } | null) => void;
  label: string;
  testId: string;
  /** Fixed height in CSS pixels; by default from the matrix's aspect. */
  height?: number;
}

const STRIP = 12;
/** Entry lines appear once an entry is this many pixels wide. */
const GRID_PIXELS = 6;

export function MicroscopeCanvas(props: MicroscopeCanvasProps) {
  const { rows, cols, view, onView, paint, strips, groupWidth, onHover, label, testId } = props;
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const rowStrip = useRef<HTMLCanvasElement>(null);
  const colStrip = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const [painted, setPainted] = useState(false);
  const drag = useRef<{ x: number; y: number } | null>(null);

  const stripSpace = strips ? STRIP + 4 : 0;
  const canvasWidth = Math.max(0, width - stripSpace);
  const height =
    props.height ?? Math.round(Math.min(420, Math.max(120, (canvasWidth * rows) / Math.max(cols, 1))));
  const size: Size = useMemo(() => ({ width: canvasWidth, height }), [canvasWidth, height]);

  // The width follows the layout; the pixels are CSS pixels (a denser canvas would only cost time).
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.floor(el.clientWidth)));
    observer.observe(el);
    setWidth(Math.floor(el.clientWidth));
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (canvasWidth > 0 && view === null)
      onView(fitView(rows, cols, { width: canvasWidth, height }), { width: canvasWidth, height });
  }, [view, canvasWidth, height, rows, cols, onView]);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !view || canvasWidth === 0) return;
    const frame = requestAnimationFrame(() => {
      const ctx = c.getContext('2d');
      if (!ctx) return;
      const image = new ImageData(
        paint(view, canvasWidth, height) as Uint8ClampedArray<ArrayBuffer>,
        canvasWidth,
        height,
      );
      ctx.putImageData(image, 0, 0);
      drawLines(ctx, view, canvasWidth, height, rows, cols, groupWidth);
      if (strips) {
        paintStrip(rowStrip.current, strips.rows(view, height), STRIP, height, 'vertical');
        paintStrip(colStrip.current, strips.cols(view, canvasWidth), canvasWidth, STRIP, 'horizontal');
      }
      setPainted(true);
    });
    return () => cancelAnimationFrame(frame);
  }, [view, canvasWidth, height, paint, strips, rows, cols, groupWidth]);

  const zoom = useCallback(
    (factor: number, px: number, py: number) => {
      if (view) onView(zoomAt(view, factor, px, py, rows, cols, size), size);
    },
    [view, onView, rows, cols, size],
  );

  // A wheel listener that may preventDefault must not be passive, which React's onWheel is.
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    };
    c.addEventListener('wheel', onWheel, { passive: false });
    return () => c.removeEventListener('wheel', onWheel);
  }, [zoom]);

  const entryUnder = (e: React.PointerEvent<HTMLCanvasElement>) => {
    if (!view) return null;
    const r = e.currentTarget.getBoundingClientRect();
    const col = Math.floor(view.x + (e.clientX - r.left) * view.scale);
    const row = Math.floor(view.y + (e.clientY - r.top) * view.scale);
    return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
  };

  return (
    <div className="microscope-canvas" ref={box}>
      {strips && (
        <div className="strip-corner" aria-hidden="true" style={{ width: stripSpace, height: STRIP + 4 }} />
      )}
      {strips && (
        <canvas
          ref={colStrip}
          className="strip strip-cols"
          width={canvasWidth}
          height={STRIP}
          style={{ marginLeft: stripSpace }}
          title="Kept density of the columns in view"
        />
      )}
      <div className="microscope-row">
        {strips && (
          <canvas
            ref={rowStrip}
            className="strip strip-rows"
            width={STRIP}
            height={height}
            title="Kept density of the rows in view"
          />
        )}
        <canvas
          ref={canvas}
          width={canvasWidth}
          height={height}
          className="heatmap"
          data-testid={testId}
          data-painted={painted ? 'true' : 'false'}
          data-scale={view ? String(view.scale) : ''}
          role="img"
          aria-label={`${label}. Scroll or press + and − to zoom, drag or use the arrow keys to pan, 0 to fit.`}
          tabIndex={0}
          onPointerDown={(e) => {
            e.currentTarget.setPointerCapture(e.pointerId);
            drag.current = { x: e.clientX, y: e.clientY };
          }}
          onPointerMove={(e) => {
            onHover?.(entryUnder(e));
            const d = drag.current;
            if (!d || !view) return;
            onView(panBy(view, e.clientX - d.x, e.clientY - d.y, rows, cols, size), size);
            drag.current = { x: e.clientX, y: e.clientY };
          }}
          onPointerUp={() => {
            drag.current = null;
          }}
          onPointerLeave={() => onHover?.(null)}
          onKeyDown={(e) => {
            if (!view) return;
            const step = 48;
            const moves: Record<string, [number, number]> = {
              ArrowLeft: [step, 0],
              ArrowRight: [-step, 0],
              ArrowUp: [0, step],
              ArrowDown: [0, -step],
            };
            const move = moves[e.key];
            if (move) onView(panBy(view, move[0], move[1], rows, cols, size), size);
            else if (e.key === '+' || e.key === '=') zoom(2, canvasWidth / 2, height / 2);
            else if (e.key === '-') zoom(0.5, canvasWidth / 2, height / 2);
            else if (e.key === '0' || e.key === 'Home') onView(fitView(rows, cols, size), size);
            else return;
            e.preventDefault();
          }}
        />
      </div>
    </div>
  );
}

function drawLines(
  ctx: CanvasRenderingContext2D,
  view: View,
  width: number,
  height: number,
  rows: number,
  cols: number,
  groupWidth?: number,
) {
  const px = 1 / view.scale;
  const c0 = Math.max(0, Math.floor(view.x));
  const c1 = Math.min(cols, Math.ceil(view.x + width * view.scale));
  const r0 = Math.max(0, Math.floor(view.y));
  const r1 = Math.min(rows, Math.ceil(view.y + height * view.scale));
  const x = (c: number) => Math.round((c - view.x) * px) + 0.5;
  const y = (r: number) => Math.round((r - view.y) * px) + 0.5;
  if (px >= GRID_PIXELS) {
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.55)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let c = c0; c <= c1; c++) {
      ctx.moveTo(x(c), y(r0));
      ctx.lineTo(x(c), y(r1));
    }
    for (let r = r0; r <= r1; r++) {
      ctx.moveTo(x(c0), y(r));
      ctx.lineTo(x(c1), y(r));
    }
    ctx.stroke();
  }
  // Group boundaries once a group is 4 pixels wide: the N:M structure becomes visible.
  if (groupWidth && groupWidth * px >= 4) {
    ctx.strokeStyle = 'rgba(27, 31, 36, 0.55)';
    ctx.lineWidth = px >= GRID_PIXELS ? 2 : 1;
    ctx.beginPath();
    for (let c = Math.ceil(c0 / groupWidth) * groupWidth; c <= c1; c += groupWidth) {
      ctx.moveTo(x(c), y(r0));
      ctx.lineTo(x(c), y(r1));
    }
    ctx.stroke();
  }
}

function paintStrip(
  canvas: HTMLCanvasElement | null,
  density: Float32Array,
  width: number,
  height: number,
  direction: 'vertical' | 'horizontal',
) {
  const ctx = canvas?.getContext('2d');
  if (!ctx || width === 0 || height === 0) return;
  const image = ctx.createImageData(width, height);
  const { pruned, kept, outside } = COLORS;
  for (let yy = 0; yy < height; yy++)
    for (let xx = 0; xx < width; xx++) {
      const d = density[direction === 'vertical' ? yy : xx] as number;
      const o = 4 * (yy * width + xx);
      const c = Number.isNaN(d) ? outside : kept;
      const from = Number.isNaN(d) ? outside : pruned;
      const t = Number.isNaN(d) ? 0 : d;
      image.data[o] = from[0] + (c[0] - from[0]) * t;
      image.data[o + 1] = from[1] + (c[1] - from[1]) * t;
      image.data[o + 2] = from[2] + (c[2] - from[2]) * t;
      image.data[o + 3] = 255;
    }
  ctx.putImageData(image, 0, 0);
}
