import type { ConvergenceCurve, ReportedMilestones } from './convergence.js';
import { formatMs, svg } from './dom.js';

const WIDTH = 560;
const HEIGHT = 210;
const PAD = { left: 46, right: 16, top: 14, bottom: 36 };

/**
 * The share of a bundle's agents enforcing the served revision over the time since Regent published it,
 * as an SVG step line, with the 50/90/100% lines and the times they were reached (Regent's figures when
 * it reports them, else those read off the curve). Labelled for screen readers by `title`/`desc`.
 */
export function convergenceChart(bundle: string, curve: ConvergenceCurve, reported: ReportedMilestones | undefined): SVGSVGElement {
  const milestones = reported ?? { p50: curve.p50, p90: curve.p90, p100: curve.p100 };
  const lastPoint = curve.points[curve.points.length - 1]?.atMs ?? 0;
  const maxX = Math.max(1000, lastPoint, milestones.p100 ?? 0) * 1.1;
  const x = (ms: number): number => PAD.left + (ms / maxX) * (WIDTH - PAD.left - PAD.right);
  const y = (fraction: number): number => HEIGHT - PAD.bottom - fraction * (HEIGHT - PAD.top - PAD.bottom);
  const id = `chart-${bundle.replace(/[^A-Za-z0-9]/g, '-')}`;
  const total = Math.max(1, curve.total);

  let d = `M ${x(0)} ${y(0)}`;
  for (const point of curve.points) d += ` H ${x(point.atMs)} V ${y(point.agents / total)}`;
  d += ` H ${x(maxX)}`;

  const describe = curve.total === 0
    ? 'No live agent reports this bundle.'
    : `${curve.points.length} of ${curve.total} agents enforce the served revision. ${milestoneText(milestones)}`;
  const gridLines = [0.5, 0.9, 1].map((fraction) => svg('g', { class: 'grid' },
    svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(fraction), y2: y(fraction) }),
    svg('text', { x: PAD.left - 6, y: y(fraction) + 4, 'text-anchor': 'end' }, `${Math.round(fraction * 100)}%`)));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => svg('text', { class: 'tick', x: x(share * maxX), y: HEIGHT - PAD.bottom + 16, 'text-anchor': share === 0 ? 'start' : share === 1 ? 'end' : 'middle' }, formatMs(share * maxX)));
  const markers = (['p50', 'p90', 'p100'] as const).flatMap((key) => {
    const at = milestones[key];
    if (at === undefined) return [];
    const fraction = key === 'p50' ? 0.5 : key === 'p90' ? 0.9 : 1;
    return [svg('g', { class: `milestone milestone-${key}` },
      svg('line', { x1: x(at), x2: x(at), y1: y(0), y2: y(fraction) }),
      svg('circle', { cx: x(at), cy: y(fraction), r: 4 }))];
  });
  return svg('svg', { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, preserveAspectRatio: 'xMinYMin meet' },
    svg('title', { id: `${id}-title` }, `Convergence of ${bundle}`),
    svg('desc', { id: `${id}-desc` }, describe),
    gridLines,
    svg('line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0) }),
    svg('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: y(0), y2: y(1) }),
    ticks,
    svg('text', { class: 'axis-label', x: (WIDTH + PAD.left) / 2, y: HEIGHT - 4, 'text-anchor': 'middle' }, 'time since Regent published the revision'),
    svg('path', { class: 'curve', d }),
    markers);
}

export function milestoneText(milestones: ReportedMilestones): string {
  const part = (label: string, value: number | undefined): string => `${label}: ${value === undefined ? 'not yet' : formatMs(value)}`;
  return `${part('50%', milestones.p50)}; ${part('90%', milestones.p90)}; ${part('100%', milestones.p100)}.`;
}
