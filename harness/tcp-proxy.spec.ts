import { Server, Socket, createConnection, createServer } from 'node:net';
import { TcpProxy } from './tcp-proxy';

/** A loopback server that keeps what its one client sends. */
async function collector(): Promise<{ server: Server; port: number; received: () => string }> {
  let text = '';
  const server = createServer((socket) => socket.on('data', (chunk) => (text += chunk.toString())));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, received: () => text };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('TcpProxy', () => {
  let target: Awaited<ReturnType<typeof collector>>;
  let proxy: TcpProxy;
  let client: Socket;

  beforeEach(async () => {
    target = await collector();
    proxy = await TcpProxy.start('127.0.0.1', target.port);
    client = createConnection({ host: '127.0.0.1', port: proxy.port });
    await new Promise((resolve) => client.once('connect', resolve));
  });

  afterEach(async () => {
    client.destroy();
    await proxy.close();
    await new Promise((resolve) => target.server.close(resolve));
  });

  it('delivers a link that speeds up in the order it was sent: no chunk overtakes a delayed one', async () => {
    proxy.setDelay(150);
    client.write('a1;');
    await pause(20);
    client.write('a2;');
    await pause(20);
    proxy.setDelay(0);
    client.write('b1;');
    await pause(20);
    client.write('b2;');
    await pause(300);
    expect(target.received()).toBe('a1;a2;b1;b2;');
  });

  it('holds each chunk back by the delay, and forwards at once without one', async () => {
    proxy.setDelay(150);
    client.write('slow;');
    await pause(60);
    expect(target.received()).toBe('');
    await pause(200);
    expect(target.received()).toBe('slow;');
    proxy.setDelay(0);
    client.write('fast;');
    await pause(30);
    expect(target.received()).toBe('slow;fast;');
  });

  it("delivers a slow link's last bytes before its close, as a FIN follows the data", async () => {
    // A target that answers and hangs up at once, as Redis does after QUIT.
    const answering = createServer((socket) => socket.end('+OK\r\n'));
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    const slow = await TcpProxy.start('127.0.0.1', (answering.address() as { port: number }).port);
    slow.setDelay(100);
    try {
      const socket = createConnection({ host: '127.0.0.1', port: slow.port });
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      await new Promise((resolve) => socket.once('close', resolve));
      expect(answer).toBe('+OK\r\n');
    } finally {
      await slow.close();
      await new Promise((resolve) => answering.close(resolve));
    }
  });

  it('holds bytes still on a slow link when a blackhole begins, and delivers them when it lifts', async () => {
    proxy.setDelay(100);
    client.write('before;');
    await pause(10);
    proxy.set('blackhole');
    await pause(200);
    expect(target.received()).toBe('');
    proxy.setDelay(0);
    proxy.set('forward');
    await pause(50);
    expect(target.received()).toBe('before;');
  });
});
