import { Graph, layout } from '@dagrejs/dagre';

export interface DagNode {
  id: string;
  label: string;
}
export interface DagEdge {
  from: string;
  to: string;
  label?: string;
}
export interface PlacedNode extends DagNode {
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PlacedEdge extends DagEdge {
  points: { x: number; y: number }[];
}
export interface DagLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

const NODE_WIDTH = 168;
const NODE_HEIGHT = 52;

/** Places a workflow's nodes top to bottom with dagre (its own chunk: loaded on a run's page only). */
export function layoutDag(nodes: readonly DagNode[], edges: readonly DagEdge[]): DagLayout {
  const g = new Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 44, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges)
    if (g.hasNode(edge.from) && g.hasNode(edge.to)) g.setEdge(edge.from, edge.to);
  layout(g);
  const graph = g.graph();
  return {
    width: Math.ceil(graph.width ?? 0),
    height: Math.ceil(graph.height ?? 0),
    nodes: nodes.map((n) => {
      const placed = g.node(n.id);
      return { ...n, x: placed.x, y: placed.y, width: NODE_WIDTH, height: NODE_HEIGHT };
    }),
    edges: edges
      .filter((e) => g.hasEdge(e.from, e.to))
      .map((e) => ({ ...e, points: g.edge(e.from, e.to).points ?? [] })),
  };
}
