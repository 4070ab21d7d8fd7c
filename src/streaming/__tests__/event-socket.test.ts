// EventSocket, the reconnecting socket under RunsModel and RunStream, with a fake socket:
// the URL (and its token) read at every try, the backoff and its reset by an open, JSON
// messages only, a socket it closed or replaced never heard from again, and a socket that
// cannot be made told as an error.
import { EventSocket } from '../event-socket';
import { FakeSocket } from './fake-socket';

beforeEach(() => {
  FakeSocket.all = [];
});

const wait = (ms: number) => new Promise(r => setTimeout(r, ms));

function eventSocket(url: () => string, retryMs = [5, 30]) {
  const heard: string[] = [];
  const socket = new EventSocket<{ n: number }>({
    url,
    socket: FakeSocket.factory,
    retryMs,
    onOpen: () => heard.push('open'),
    onMessage: m => heard.push(`message ${m.n}`),
    onClose: error => heard.push(error ? `error ${error.message}` : 'close')
  });
  return { socket, heard };
}

test('each try reads the URL again (a new token is used), backs off between failed tries, and an open resets the backoff', async () => {
  let token = 'a';
  const { socket, heard } = eventSocket(() => `ws://bridge/runs/events?token=${token}`);
  socket.open();
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive({ n: 1 });
  token = 'b';
  FakeSocket.all[0].drop();
  expect(heard).toEqual(['open', 'message 1', 'close']);
  expect(socket.retry()).toBe(5);
  await wait(15);
  expect(FakeSocket.all.map(s => s.url)).toEqual(['ws://bridge/runs/events?token=a', 'ws://bridge/runs/events?token=b']);
  FakeSocket.all[1].drop();
  expect(socket.retries).toBe(1);
  // The second failed try waits the next delay, and the last delay repeats.
  expect(socket.retry()).toBe(30);
  await wait(15);
  expect(FakeSocket.all).toHaveLength(2);
  await wait(30);
  expect(FakeSocket.all).toHaveLength(3);
  FakeSocket.all[2].drop();
  expect(socket.retry()).toBe(30);
  await wait(45);
  FakeSocket.all[3].open();
  expect(socket.retries).toBe(0);
  FakeSocket.all[3].drop();
  expect(socket.retry()).toBe(5);
  // A delay of the caller's own, counted like the others; only an open resets the count.
  socket.close();
  expect(socket.retry(0)).toBe(0);
  expect(socket.retries).toBe(2);
  socket.close();
});

test('only the socket in use is heard: not one it closed, nor one a new open replaced; text that is not JSON is dropped', async () => {
  const { socket, heard } = eventSocket(() => 'ws://bridge/x');
  socket.open();
  const first = FakeSocket.all[0];
  socket.open();
  expect(first.closedWith).toBe(1000);
  first.open();
  first.receive({ n: 1 });
  first.drop();
  expect(heard).toEqual([]);
  const second = FakeSocket.all[1];
  second.open();
  second.onmessage?.({ data: 'not json' });
  second.receive({ n: 2 });
  socket.close();
  expect(second.closedWith).toBe(1000);
  second.receive({ n: 3 });
  second.drop();
  expect(heard).toEqual(['open', 'message 2']);
  // close() also drops a pending retry.
  socket.retry();
  socket.close();
  await wait(15);
  expect(FakeSocket.all).toHaveLength(2);
});

test('a socket that cannot be made (a bad URL) is told to the owner as an error', () => {
  const { socket, heard } = eventSocket(() => {
    throw new Error('no bridge URL yet');
  });
  socket.open();
  expect(heard).toEqual(['error no bridge URL yet']);
  expect(FakeSocket.all).toHaveLength(0);
  socket.close();
});
