// One launch at a time: a second click on Run while a run is being started (saving,
// writing files, asking for variables, posting) does nothing instead of starting a
// second run. Pure.
import { Signal, type ISignal } from '@lumino/signaling';

export class LaunchGuard {
  private _busy: string | null = null;
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** What is being launched (e.g. "Starting the run…"), or null. */
  get busy(): string | null {
    return this._busy;
  }

  /** Runs `launch` unless another launch is going (then returns undefined at once). */
  async run<T>(what: string, launch: () => Promise<T>): Promise<T | undefined> {
    if (this._busy !== null) return undefined;
    this._busy = what;
    this._changed.emit();
    try {
      return await launch();
    } finally {
      this._busy = null;
      this._changed.emit();
    }
  }
}
