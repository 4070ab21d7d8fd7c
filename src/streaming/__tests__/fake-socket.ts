// A WebSocket stand-in for the frontend's event streams (the bridge boundary): the test
// opens it, hands it messages and drops it, and sees what the code under test closed.
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: unknown) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  /** The code the code under test closed it with. */
  closedWith?: number;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  /** Makes sockets for the code under test (its `socket` option). */
  static factory = (url: string): WebSocket => new FakeSocket(url) as unknown as WebSocket;
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** Each message as the bridge sends it: JSON text. */
  receive(...messages: unknown[]): void {
    for (const m of messages) this.onmessage?.({ data: JSON.stringify(m) });
  }
  /** The connection ends without the code under test asking (the bridge, the network). */
  drop(): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({});
  }
  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }
}
