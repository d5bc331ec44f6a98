import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { CHART_SERIES, type MinuteRow } from './run-stats.js';

/** Runs finished per minute by status, drawn by uPlot on a canvas (the page has the table too). */
export default function RunsChart({ rows }: { rows: MinuteRow[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(
      {
        width: el.clientWidth || 600,
        height: 220,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { label: 'runs', size: 48 }],
        series: [
          {},
          ...CHART_SERIES.map((s) => ({
            label: s.status,
            stroke: s.color,
            width: 2,
            points: { show: false },
          })),
        ],
      },
      [[], ...CHART_SERIES.map(() => [])],
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([
      rows.map((r) => r.minute / 1_000),
      ...CHART_SERIES.map((s) => rows.map((r) => r.counts[s.status] ?? 0)),
    ]);
  }, [rows]);

  return <div ref={box} class="chart" aria-hidden="true" />;
}
