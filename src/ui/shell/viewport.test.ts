import { describe, expect, it } from 'vitest';
import { clampView, entryAt, fitView, MIN_SCALE, panBy, zoomAt } from './viewport';

const SIZE = { width: 800, height: 400 };

describe('microscope view', () => {
  it('fits a wide and a tall matrix, centred', () => {
    const wide = fitView(4096, 11008, SIZE);
    expect(wide.scale).toBeCloseTo(11008 / 800);
    expect(wide.x).toBeCloseTo(0);
    expect(wide.y).toBeCloseTo((4096 - 400 * wide.scale) / 2);
    const small = fitView(64, 172, SIZE);
    expect(small.scale).toBeCloseTo(172 / 800);
    expect(entryAt(small, 0, 200, 64, 172)?.col).toBe(0);
    expect(entryAt(small, 799, 200, 64, 172)?.col).toBe(171);
    expect(entryAt(small, 400, 0, 64, 172)).toBeNull();
  });

  it('keeps the entry under the cursor when zooming, within bounds', () => {
    const view = fitView(4096, 11008, SIZE);
    const at = (v: typeof view) => [v.x + 300 * v.scale, v.y + 100 * v.scale];
    const zoomed = zoomAt(view, 4, 300, 100, 4096, 11008, SIZE);
    expect(zoomed.scale).toBeCloseTo(view.scale / 4);
    expect(at(zoomed)[0]).toBeCloseTo(at(view)[0] as number, 6);
    expect(at(zoomed)[1]).toBeCloseTo(at(view)[1] as number, 6);
    let deep = zoomed;
    for (let i = 0; i < 40; i++) deep = zoomAt(deep, 2, 300, 100, 4096, 11008, SIZE);
    expect(deep.scale).toBe(MIN_SCALE);
    expect(zoomAt(view, 0.25, 300, 100, 4096, 11008, SIZE).scale).toBeCloseTo(view.scale);
  });

  it('pans, and never shows past an edge of a matrix larger than the canvas', () => {
    const view = zoomAt(fitView(4096, 11008, SIZE), 8, 0, 0, 4096, 11008, SIZE);
    const moved = panBy(view, -100, -50, 4096, 11008, SIZE);
    expect(moved.x).toBeCloseTo(view.x + 100 * view.scale);
    expect(moved.y).toBeCloseTo(view.y + 50 * view.scale);
    const far = panBy(view, -1e9, -1e9, 4096, 11008, SIZE);
    expect(far.x + 800 * far.scale).toBeCloseTo(11008);
    expect(far.y + 400 * far.scale).toBeCloseTo(4096);
    expect(clampView({ x: -50, y: -50, scale: view.scale }, 4096, 11008, SIZE)).toMatchObject({ x: 0, y: 0 });
  });
});
