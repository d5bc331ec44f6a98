import type { ComponentChildren } from 'preact';
import { useRef } from 'preact/hooks';

/** A modal <dialog>: focus moves in, Escape closes, the page behind is inert. */
export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const opened = useRef(false);
  const attach = (el: HTMLDialogElement | null) => {
    ref.current = el;
    if (el && !opened.current) {
      opened.current = true;
      el.showModal();
    }
  };
  return (
    <dialog ref={attach} aria-labelledby="modal-title" onClose={onClose} class="modal">
      <h2 id="modal-title">{title}</h2>
      {children}
    </dialog>
  );
}
