import { SaleProgress } from '../harness/claim-runner';

/** A progress bar on a TTY, a plain line every few seconds otherwise; always on stderr. */
export function progressPrinter(
  stock: number,
  stream: NodeJS.WriteStream = process.stderr,
): {
  update: (p: SaleProgress) => void;
  done: () => void;
} {
  let lastPlain = 0;
  let lastDone = 0;
  let lastAt = 0;
  let rate = 0;
  const describe = (p: SaleProgress) => {
    const dt = (p.elapsedMs - lastAt) / 1000;
    if (dt >= 0.5) {
      rate = (p.done - lastDone) / dt;
      lastDone = p.done;
      lastAt = p.elapsedMs;
    }
    return `${p.done}/${p.total} done, ${p.granted} granted, stock left ${Math.max(0, stock - p.granted)}, ${Math.round(rate)} req/s`;
  };
  return {
    update: (p) => {
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round((p.done / Math.max(1, p.total)) * width);
        stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${describe(p)}   `);
      } else if (p.elapsedMs - lastPlain >= 2000 || p.done === p.total) {
        lastPlain = p.elapsedMs;
        stream.write(`progress: ${describe(p)}\n`);
      }
    },
    done: () => {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
