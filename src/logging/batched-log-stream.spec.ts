import { BatchedLogStream, LogSink } from './batched-log-stream';

function recordingSink() {
  const writes: string[] = [];
  let syncFlushes = 0;
  const sink: LogSink = {
    write: (text) => (writes.push(text), true),
    flushSync: () => void syncFlushes++,
  };
  return { sink, writes, syncFlushes: () => syncFlushes };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchedLogStream', () => {
  it('writes the lines of one event-loop turn as one write, in order', async () => {
    const { sink, writes } = recordingSink();
    const stream = new BatchedLogStream(sink);
    stream.write('a\n');
    stream.write('b\n');
    stream.write('c\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    stream.write('d\n');
    await nextTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes what is pending at once on flushSync (process exit), then flushes the sink', () => {
    const { sink, writes, syncFlushes } = recordingSink();
    const stream = new BatchedLogStream(sink);
    stream.write('last words\n');
    stream.flushSync();
    expect(writes).toEqual(['last words\n']);
    expect(syncFlushes()).toBe(1);
  });
});
