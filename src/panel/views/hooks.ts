// Re-render a view when any of the models it shows emits: views only subscribe.
import * as React from 'react';
import type { ISignal } from '@lumino/signaling';

export function useSignals(...signals: ISignal<unknown, unknown>[]): void {
  const [, bump] = React.useReducer((n: number) => n + 1, 0);
  React.useEffect(() => {
    const onChange = () => bump();
    signals.forEach(s => s.connect(onChange));
    return () => signals.forEach(s => s.disconnect(onChange));
  }, signals);
}
