import { statusKind } from '../ui/bits.js';
import { ScrollBox } from '../ui/scroll-box.js';
import { type DagEdge, type DagNode, layoutDag } from './dag-layout.js';

/** A workflow run's DAG as SVG: each node with its id and state (state also as text, not colour only). */
export default function DagView({
  nodes,
  edges,
  states,
}: {
  nodes: DagNode[];
  edges: DagEdge[];
  states: Map<string, string>;
}) {
  const dag = layoutDag(nodes, edges);
  return (
    <ScrollBox class="dag-wrap" label="Workflow graph">
      <svg
        class="dag"
        width={dag.width}
        height={dag.height}
        viewBox={`0 0 ${dag.width} ${dag.height}`}
        role="img"
        aria-label={`Workflow graph: ${dag.nodes.map((n) => `${n.label} ${states.get(n.id) ?? 'PENDING'}`).join(', ')}`}
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" fill="#57606a" />
          </marker>
        </defs>
        {dag.edges.map((e) => (
          <g key={`${e.from}->${e.to}`}>
            <polyline
              points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
              fill="none"
              stroke="#57606a"
              stroke-width="1.5"
              marker-end="url(#arrow)"
            />
            {e.label && e.points.length > 1 && (
              <text
                x={(e.points[Math.floor(e.points.length / 2)]?.x ?? 0) + 6}
                y={e.points[Math.floor(e.points.length / 2)]?.y ?? 0}
                class="dag-edge-label"
              >
                {e.label}
              </text>
            )}
          </g>
        ))}
        {dag.nodes.map((n) => {
          const state = states.get(n.id) ?? 'PENDING';
          return (
            <g
              key={n.id}
              class={`dag-node status-${statusKind(state)}`}
              transform={`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}
            >
              <rect width={n.width} height={n.height} rx="6" />
              <text x={n.width / 2} y="21" text-anchor="middle" class="dag-label">
                {n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label}
              </text>
              <text x={n.width / 2} y="40" text-anchor="middle" class="dag-state">
                {state}
              </text>
            </g>
          );
        })}
      </svg>
    </ScrollBox>
  );
}
