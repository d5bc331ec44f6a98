import type { ComponentChildren } from 'preact';

/**
 * A box that scrolls sideways on a narrow screen (a wide table, the DAG): a
 * named region that takes focus, so a keyboard can scroll it.
 */
export function ScrollBox({
  label,
  class: className = 'table-wrap',
  children,
}: {
  label: string;
  class?: string;
  children: ComponentChildren;
}) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard to scroll it
    <section class={className} aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
