import { allRoutes, type Route, routeQueue } from '@drover/protocol';
import { z } from 'zod';

// Renders docs/protocol.md from the routing table, so the doc cannot drift
// from the code (a test compares the two).

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
};

function typeName(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeName).join(' \\| ');
  if (s.type === 'array' && s.items) return `${typeName(s.items)}[]`;
  if (s.type === 'object' && s.properties) return 'object';
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

function fields(schema: JsonSchema, prefix = ''): string[] {
  const rows: string[] = [];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const optional = schema.required?.includes(name) ? '' : '?';
    rows.push(`\`${prefix}${name}${optional}\`: ${typeName(prop)}`);
    const inner = prop.type === 'array' ? prop.items : prop;
    if (inner?.properties)
      rows.push(...fields(inner, `${prefix}${name}${prop.type === 'array' ? '[]' : ''}.`));
  }
  return rows;
}

function describe(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows = fields(json);
  return rows.length ? rows.join('<br>') : typeName(json);
}

function subjectTemplate(route: Route): string {
  return route.actor === 'server'
    ? `drover.<app>.server.${route.handler}`
    : `drover.<app>.worker.<workerId>.${route.actor}.${route.handler}`;
}

export function renderProtocolDoc(): string {
  const lines = [
    '# Drover wire protocol',
    '',
    '<!-- Generated from packages/protocol/src/routes.ts by `pnpm gen:docs`. Do not edit by hand. -->',
    '',
    'Payloads are msgpack (plain maps, no extensions). Every `ask` reply is',
    '`{ok: true, data}` or `{ok: false, error: {code, message, retryable?, issues?}}`.',
    'Headers: `Drover-Idempotency-Key` (same on every retry), `Drover-Attempt`, `Drover-Trace-Id`;',
    '`Drover-Sent-At` on `run_jobs`: the sender clock (`senderClock`) in fractional epoch ms once the',
    "batch was encoded, used only within 50 ms after the body's `sentAt`.",
    '',
  ];
  for (const route of allRoutes) {
    lines.push(
      `## ${route.actor}.${route.handler}`,
      '',
      `- subject: \`${subjectTemplate(route)}\``,
      `- pattern: ${route.pattern}${route.pattern === 'ask' ? `, default timeout ${route.timeoutMs} ms` : ''}`,
      `- delivery: ${routeQueue(route) ? `one server (queue group \`${routeQueue(route)}\`)` : route.actor === 'server' ? 'every server' : 'the addressed worker'}`,
      `- request: ${describe(route.request)}`,
    );
    if (route.pattern === 'ask') lines.push(`- reply: ${describe(route.reply)}`);
    lines.push('');
  }
  return lines.join('\n');
}
