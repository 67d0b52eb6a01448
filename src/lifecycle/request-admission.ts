import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How often parked connections are looked at when no answer wakes them (an idle keep-alive socket sends nothing). */
const SWEEP_INTERVAL_MS = 25;

/** The libuv stream under a socket: what stops and starts its reads. */
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
 *   is parsed. One with nothing to send (an idle kept-alive one) gives the room back after two
 *   on-time sweeps (SWEEP_INTERVAL_MS apart; a late one means the loop had no time to read it).
 * - Each answer hands its room to the oldest parked connection.
 * - Requests count from Node's 'request' event to their response's 'close'. Nothing is ever
 *   refused for the limit. A kept-alive connection whose request is being read when the limit is
 *   reached, or a woken one that gave its room back, may still bring one request past it.
 *
 * - A client that pipelines requests (several in one write, rare outside benchmarks) brings all
 *   of them past the limit: Node parses every request of one read before any answer.
 *
 * `socket.pause()` does not keep an HTTP server's socket unread: the server resumes it (its
 * 'resume' scheduled at connection time undoes the pause on the next tick). The handle's
 * readStop()/readStart() do (request-admission.spec.ts holds that on the pinned Node).
 */
export class RequestAdmission {
  private inProgress = 0;
  /**
   * The parked connections, oldest first (a Map keeps insertion order, and a woken one is deleted,
   * so one parked again waits at the back), each with the idle timeout it had (suspended while it waits).
   */
  private readonly parked = new Map<Socket, number>();
  /**
   * Rooms held by connections let in (new or woken) whose request has not been read yet, each
   * with the sweep it was let in at, in the order let in.
   */
  private readonly reservations = new Map<Socket, number>();
  /** Sockets that already give their room back when they close (a kept-alive one may be woken many times). */
  private readonly watched = new WeakSet<Socket>();
  private sweeps = 0;
  private lastSweepAt = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private open = false;

  constructor(private readonly limit: number) {}

  /** Requests being served now. */
  get requestsInProgress(): number {
    return this.inProgress;
  }

  /** Connections waiting unread for room. */
  get connectionsWaiting(): number {
    return this.parked.size;
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
      // connections accepted together is bounded before any of their requests is read. It
      // waits behind any connection already parked (first come, first served).
      if (this.full() || this.parked.size > 0) this.park(socket);
      else this.reserve(socket);
    });
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      this.inProgress++;
      if (this.reservations.size > 0) this.release(request.socket);
      response.on('close', onClose); // emitted once, when the answer is done or abandoned
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
    return !this.open && this.inProgress + this.reservations.size >= this.limit;
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
    // Pipelined requests answer one after the other on one socket: it is parked once.
    if (this.parked.has(socket)) return;
    const handle = handleOf(socket);
    if (!handle) return;
    handle.readStop();
    // Node's idle timer (keepAliveTimeout on a kept-alive socket) would close it while its next
    // request waits unread: the wait is not the client's idleness, so the timer stops here and
    // starts again when the socket is read.
    const timeout = socket.timeout ?? 0;
    if (timeout > 0) socket.setTimeout(0);
    this.parked.set(socket, timeout);
    this.startSweeper();
  }

  /** Reads up to `count` parked connections (while there is room), oldest first; closed ones are dropped. */
  private wake(count: number): void {
    if (this.parked.size === 0) return; // every answer calls this: no iterator when none waits
    let woken = 0;
    for (const [socket, timeout] of this.parked) {
      if (woken >= count || this.full()) break;
      this.parked.delete(socket);
      const handle = socket.destroyed ? null : handleOf(socket);
      if (!handle) continue;
      if (timeout > 0) socket.setTimeout(timeout);
      handle.readStart();
      woken++;
      if (!this.open) this.reserve(socket);
    }
  }

  /** The socket holds a room until its request is read, it closes, or a whole sweep passes. */
  private reserve(socket: Socket): void {
    if (this.reservations.has(socket)) return;
    this.reservations.set(socket, this.sweeps);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      // A closed connection's room goes to the next parked one at once, not at the next sweep.
      socket.once('close', () => {
        if (this.release(socket)) this.wake(1);
      });
    }
    this.startSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.lastSweepAt = performance.now();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  /** Gives back the socket's room, if it held one. */
  private release(socket: Socket): boolean {
    return this.reservations.delete(socket);
  }

  /**
   * Gives back the rooms of connections that sent nothing for a whole sweep, and fills free
   * rooms. A sweep that runs late counts for nothing: the event loop was too busy to read what
   * the connections let in have sent, so their silence says nothing yet.
   */
  private sweep(): void {
    const now = performance.now();
    const onTime = now - this.lastSweepAt <= 2 * SWEEP_INTERVAL_MS;
    this.lastSweepAt = now;
    if (onTime) this.sweeps++;
    for (const [socket, since] of this.reservations) {
      if (since >= this.sweeps - 1) break; // in the order let in: the rest are newer
      this.release(socket);
    }
    this.wake(Infinity);
    if (this.parked.size === 0 && this.reservations.size === 0 && this.sweeper) {
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
