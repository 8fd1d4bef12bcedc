// A TCP front on 127.0.0.1 that records every connection attempt (with its
// time) and either forwards it to a target or refuses it (accept, then destroy
// at once). Lets a test watch a consumer's reconnect attempts one by one.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class Gate {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly targetPort: number;
  private refuseLeft = 0;
  private open = true;
  /** Every connection attempt, in order. */
  readonly attempts: Array<{ at: number; forwarded: boolean }> = [];

  private constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** A gate forwarding to 127.0.0.1:`targetPort`, listening on `port` (0: any). */
  static async start(targetPort: number, port = 0): Promise<Gate> {
    const gate = new Gate(targetPort);
    await new Promise<void>((resolve, reject) => {
      gate.server.once('error', reject);
      gate.server.listen(port, '127.0.0.1', () => resolve());
    });
    return gate;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Attempts that were refused. */
  get refused(): number {
    return this.attempts.filter((a) => !a.forwarded).length;
  }

  /** Refuses every new connection from now on. */
  refuse(): void {
    this.open = false;
  }

  /** Forwards new connections again. */
  forward(): void {
    this.open = true;
    this.refuseLeft = 0;
  }

  /** Refuses the next `n` connections, then forwards again. */
  refuseNext(n: number): void {
    this.refuseLeft = n;
  }

  /** Destroys every open connection (both sides): the peer sees it closed. */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(downstream: Socket): void {
    downstream.on('error', () => undefined);
    let forward = this.open;
    if (this.refuseLeft > 0) {
      this.refuseLeft--;
      forward = false;
    }
    this.attempts.push({ at: performance.now(), forwarded: forward });
    if (!forward) {
      downstream.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    upstream.on('error', () => undefined);
    for (const s of [downstream, upstream]) {
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  }
}
