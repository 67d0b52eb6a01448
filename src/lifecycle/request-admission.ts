import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How often parked connections are looked at when no answer wakes them (an idle keep-alive socket sends nothing). */
const SWEEP_INTERVAL_MS = 25;

/** The libuv stream under a socket: what net.Socket.pause() itself calls when it stops reading. */
interface ReadableHandle {
  readStart(): number;
  readStop(): number;
}

function handleOf(socket: Socket): ReadableHandle | null {
  const handle = (socket as unknown as { _handle?: Partial<ReadableHandle> | null })._handle;
  return handle && typeof handle.readStart === 'function' && typeof handle.readStop === 'function' ? (handle as ReadableHandle) : null;
}

/**
 * At most `limit` requests in progress in this process; past it, connections wait unread, in
 * the kernel, first come first served. A sale's crowd arrives at once: 4,096 requests read
 * together cost ~11 KB of heap each while they wait (copied by every young-generation GC), and
 * the replies of PostgreSQL and Redis queue behind them in the event loop (measured in
 * performance.md). Parked, a connection costs a socket buffer.
 *
 * - What waits: a new connection while the limit is reached, and a kept-alive connection whose
 *   answer went out while it was (its next request would add to the crowd).
 * - A connection let in (new, or woken) holds a room (a reservation) until its request is read:
 *   a burst of connections accepted in one turn of the event loop is bounded before any request
 *   is parsed. One with nothing to send (an idle kept-alive one) gives the room back at the next
 *   sweep, within 2 x SWEEP_INTERVAL_MS.
 * - Each answer hands its room to the oldest parked connection.
 * - Requests count from Node's 'request' event to their response's 'close'. Nothing is ever
 *   refused for the limit. A kept-alive connection whose request is being read when the limit is
 *   reached, or a woken one that gave its room back, may still bring one request past it.
 *
 * `net.Socket.pause()` does not stop an HTTP server's socket: Node's parser reads the stream
 * itself. The handle's readStop()/readStart() do (request-admission.spec.ts holds that on the
 * pinned Node).
 */
export class RequestAdmission {
  private inProgress = 0;
  /** Rooms handed to woken connections whose request has not been read yet. */
  private reserved = 0;
  /** Parked connections, oldest at `head` (an array shifted from the front would move them all). */
  private parked: Socket[] = [];
  private head = 0;
  /** Woken connections holding a room, with the sweep they were woken in. */
  private readonly reservations = new Map<Socket, number>();
  /** Sockets that already give their room back when they close (a kept-alive one may be woken many times). */
  private readonly watched = new WeakSet<Socket>();
  private sweeps = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private open = false;

  constructor(private readonly limit: number) {}

  /** Requests being served now. */
  get requestsInProgress(): number {
    return this.inProgress;
  }

  /** Connections waiting unread for room. */
  get connectionsWaiting(): number {
    return this.parked.length - this.head;
  }

  attach(server: Server): void {
    if (this.limit <= 0) return;
    admissions.set(server, this);
    // One listener for every response, not a closure per request (the response keeps its request, and the request its socket).
    const answered = (response: ServerResponse) => this.answered(response);
    function onClose(this: ServerResponse): void {
      answered(this);
    }
    server.on('connection', (socket: Socket) => {
      // A new connection comes to send a request: it holds a room from now, so a burst of
      // connections accepted together is bounded before any of their requests is read.
      if (this.full()) this.park(socket);
      else this.reserve(socket);
    });
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      this.inProgress++;
      if (this.reserved > 0) this.release(request.socket);
      response.once('close', onClose);
    });
  }

  /**
   * Stops parking and reads every parked connection: a draining process answers what it was
   * sent before Node closes the connections it sees idle (a parked one has no request yet).
   */
  openAll(): void {
    this.open = true;
    this.wake(Infinity);
  }

  private full(): boolean {
    return !this.open && this.inProgress + this.reserved >= this.limit;
  }

  private answered(response: ServerResponse): void {
    this.inProgress--;
    // The room goes to the oldest parked connection first; then, when none is left, this
    // kept-alive socket waits like a new one (its next request would be one past the limit).
    this.wake(1);
    const socket = response.req.socket;
    if (response.shouldKeepAlive && !socket.destroyed && this.full()) this.park(socket);
  }

  private park(socket: Socket): void {
    const handle = handleOf(socket);
    if (!handle) return;
    handle.readStop();
    this.parked.push(socket);
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  /** Reads up to `count` parked connections (while there is room), oldest first; closed ones are dropped. */
  private wake(count: number): void {
    let woken = 0;
    while (woken < count && this.head < this.parked.length && (this.open || this.inProgress + this.reserved < this.limit)) {
      const socket = this.parked[this.head++];
      const handle = socket.destroyed ? null : handleOf(socket);
      if (!handle) continue;
      handle.readStart();
      woken++;
      if (!this.open) this.reserve(socket);
    }
    if (this.head === this.parked.length) {
      this.parked = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.parked.length) {
      this.parked = this.parked.slice(this.head);
      this.head = 0;
    }
  }

  /** The socket holds a room until its request is read, it closes, or a whole sweep passes. */
  private reserve(socket: Socket): void {
    this.reserved++;
    this.reservations.set(socket, this.sweeps);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => this.release(socket));
    }
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  private release(socket: Socket): void {
    if (this.reservations.delete(socket)) this.reserved--;
  }

  /** Gives back the rooms of woken connections that sent nothing for a whole sweep, and fills free rooms. */
  private sweep(): void {
    this.sweeps++;
    for (const [socket, since] of this.reservations) {
      if (since >= this.sweeps - 1) break; // in waking order: the rest are newer
      this.release(socket);
    }
    this.wake(Infinity);
    if (this.head === this.parked.length && this.reservations.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

const admissions = new WeakMap<Server, RequestAdmission>();

/** The admission attached to this server, if any (graceful shutdown opens it). */
export function requestAdmissionOf(server: Server): RequestAdmission | undefined {
  return admissions.get(server);
}
