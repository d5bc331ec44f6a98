import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JobSpecInput } from '../jobs/job-spec.js';
import { WorkflowSpecInput } from '../workflows/workflow-spec.js';
import {
  AppListView,
  AppView,
  CreatedAppView,
  ErrorView,
  InstanceView,
  JobView,
  JsonValue,
  LogLineView,
  NewWorkerKeyView,
  RunStatsView,
  RunsView,
  WorkerKeyView,
  WorkerView,
  WorkflowRunDetailView,
  WorkflowRunView,
  WorkflowView,
} from './views.js';

// How the server writes /api/v1/openapi.json from its zod route schemas.

/**
 * Shapes written once under `components.schemas` and referenced by `$ref`.
 * A recursive schema (JsonValue) must be here: fastify-type-provider-zod drops
 * the definitions zod extracts for an unnamed cycle, leaving a `$ref` to nothing.
 * The transform writes each as output (`Job`) and input (`JobSpecInput`).
 */
const COMPONENTS: Record<string, z.ZodType> = {
  JsonValue,
  Error: ErrorView,
  App: AppView,
  AppList: AppListView,
  CreatedApp: CreatedAppView,
  WorkerKey: WorkerKeyView,
  NewWorkerKey: NewWorkerKeyView,
  Job: JobView,
  JobSpec: JobSpecInput,
  Instance: InstanceView,
  Runs: RunsView,
  RunStats: RunStatsView,
  LogLine: LogLineView,
  Worker: WorkerView,
  Workflow: WorkflowView,
  WorkflowSpec: WorkflowSpecInput,
  WorkflowRun: WorkflowRunView,
  WorkflowRunDetail: WorkflowRunDetailView,
};

/** Marks an operation callable without any token (health probes, this document). */
export const NO_AUTH = [] as const;

/** Marks an operation that needs the server's admin token instead of an app secret. */
export const ADMIN_AUTH = [{ adminToken: [] }] as const;

/** @fastify/swagger options: the app secret by default, named shared components. */
export function openApiOptions(): FastifyDynamicSwaggerOptions {
  for (const [id, schema] of Object.entries(COMPONENTS)) z.globalRegistry.add(schema, { id });
  return {
    openapi: {
      info: {
        title: 'Drover server API',
        version: '1',
        description: 'Errors answer `{error: {code, message, issues?}}` (see the Error component).',
      },
      // Relative: the paths below are from the root of the server that serves this document.
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          appSecret: { type: 'http', scheme: 'bearer', description: "The app's secret or token" },
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: "The server's admin token (DROVER_ADMIN_TOKEN)",
          },
        },
      },
      // App routes take the app's secret or the admin token (either one).
      security: [{ appSecret: [] }, { adminToken: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (document) => {
      // A new document with new components each time: tidying them in place is safe.
      const written = jsonSchemaTransformObject(document);
      const schemas = 'components' in written ? written.components?.schemas : undefined;
      if (schemas) {
        openJsonValues(schemas);
        dropUnusedSchemas(written.paths, schemas);
      }
      return written;
    },
  };
}

/**
 * A JSON value written as the empty schema (any value a JSON body holds), not
 * as zod's recursive union: that one is `nullable` without a `type` (invalid
 * OpenAPI 3.0), and openapi-typescript turns its array branch into a type that
 * refers to itself, which tsc refuses.
 */
function openJsonValues(schemas: Record<string, unknown>): void {
  for (const name of ['JsonValue', 'JsonValueInput'])
    if (name in schemas) schemas[name] = { description: 'Any JSON value' };
}

const SCHEMA_REF = '#/components/schemas/';

/** Every component name `value` refers to by `$ref`, however deep. */
function schemaRefs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) schemaRefs(item, into);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(SCHEMA_REF))
        into.add(child.slice(SCHEMA_REF.length));
      else schemaRefs(child, into);
    }
  }
  return into;
}

/**
 * The transform writes an input and an output version of every component;
 * only those the operations reach are kept (a client's generated types stay small).
 */
function dropUnusedSchemas(paths: unknown, schemas: Record<string, unknown>): void {
  const used = schemaRefs(paths, new Set());
  // Components refer to others (Runs to Instance): follow until nothing new is reached.
  for (let size = -1; size !== used.size; ) {
    size = used.size;
    for (const name of [...used]) schemaRefs(schemas[name], used);
  }
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}
