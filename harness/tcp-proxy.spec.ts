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
});
