declare module 'parse-prometheus-text-format' {
  /** Metric families as the parser returns them (samples' values are strings). */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
