// Zoom and pan of the microscope's canvases as pure functions of a View (maskGrid.ts): the entry
// at the canvas's top-left corner and how many entries a pixel spans. Zooming keeps the entry under
// the cursor where it is; the view is kept from drifting off the matrix and from zooming past
// MIN_SCALE (an entry 48 pixels wide) or out past the whole matrix.

import type { View } from '../microscope/maskGrid';

/** Entries per pixel at the deepest zoom: one entry is 48 pixels wide. */
export const MIN_SCALE = 1 / 48;

export interface Size {
  width: number;
  height: number;
}

/** The whole matrix, centred, at the scale that fits it. */
export function fitView(rows: number, cols: number, size: Size): View {
  const scale = Math.max(cols / size.width, rows / size.height, MIN_SCALE);
  return clampView(
    { x: (cols - size.width * scale) / 2, y: (rows - size.height * scale) / 2, scale },
    rows,
    cols,
    size,
  );
}

/** The largest scale: the matrix fits the canvas. */
export function maxScale(rows: number, cols: number, size: Size): number {
  return Math.max(cols / size.width, rows / size.height, MIN_SCALE);
}

/**
 * Keeps the scale within bounds, and the matrix on the canvas: an axis the canvas spans whole is
 * centred, otherwise the canvas may not show past either edge.
 */
export function clampView(view: View, rows: number, cols: number, size: Size): View {
  const scale = Math.min(Math.max(view.scale, MIN_SCALE), maxScale(rows, cols, size));
  const axis = (origin: number, length: number, pixels: number) => {
    const span = pixels * scale;
    if (span >= length) return (length - span) / 2;
    return Math.min(Math.max(origin, 0), length - span);
  };
  return { x: axis(view.x, cols, size.width), y: axis(view.y, rows, size.height), scale };
}

/** Zoom by `factor` (> 1 zooms in) around pixel (px, py). */
export function zoomAt(
  view: View,
  factor: number,
  px: number,
  py: number,
  rows: number,
  cols: number,
  size: Size,
): View {
  const scale = view.scale / factor;
  const x = view.x + px * view.scale - px * scale;
  const y = view.y + py * view.scale - py * scale;
  const next = clampView({ x, y, scale }, rows, cols, size);
  // At a bound the scale did not change as asked: keep the point under the cursor all the same.
  if (next.scale !== scale) {
    return clampView(
      {
        x: view.x + px * (view.scale - next.scale),
        y: view.y + py * (view.scale - next.scale),
        scale: next.scale,
      },
      rows,
      cols,
      size,
    );
  }
  return next;
}

/** Moves the content by (dx, dy) pixels (a drag to the right shows entries further left). */
export function panBy(view: View, dx: number, dy: number, rows: number, cols: number, size: Size): View {
  return clampView({ ...view, x: view.x - dx * view.scale, y: view.y - dy * view.scale }, rows, cols, size);
}

/** The entry under pixel (px, py), or null outside the matrix. */
export function entryAt(
  view: View,
  px: number,
  py: number,
  rows: number,
  cols: number,
): { row: number; col: number } | null {
  const col = Math.floor(view.x + px * view.scale);
  const row = Math.floor(view.y + py * view.scale);
  return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
}
