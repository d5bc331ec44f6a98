import type { DroverClient } from '@drover/client';
import { createContext } from 'preact';
import { useContext, useEffect, useRef } from 'preact/hooks';
import type { EventStream } from './live/event-stream.js';
import type { ConsoleEvent } from './live/events.js';
import type { Session } from './session.js';

export interface ConsoleContext {
  session: Session;
  client: DroverClient;
  events: EventStream;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error('useConsole outside a signed-in page');
  return ctx;
}

/**
 * Calls `onEvent` for each event of the shared stream, and `onReconnect` when
 * it came back after a drop (events may have been missed: reload).
 */
export function useEvents(onEvent: (event: ConsoleEvent) => void, onReconnect?: () => void): void {
  const { events } = useConsole();
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  useEffect(() => {
    const stopEvents = events.subscribe((event) => handlers.current.onEvent(event));
    const stopState = events.onState((state, reconnected) => {
      if (state === 'open' && reconnected) handlers.current.onReconnect?.();
    });
    return () => {
      stopEvents();
      stopState();
    };
  }, [events]);
}
