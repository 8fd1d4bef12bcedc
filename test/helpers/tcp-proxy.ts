// A small TCP proxy on 127.0.0.1 for fault tests: it forwards bytes both ways
// and can stop forwarding without closing anything (a blackhole: the sockets stay
// open, bytes are read and dropped), resume, or reset every connection (RST).
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  downstream: Socket; // the client's side
  upstream: Socket; // the target's side
}

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private readonly targetPort: number;
  private readonly targetHost: string;
  private forwarding = true;
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(targetHost: string, targetPort: number) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Starts a proxy to `targetHost:targetPort`, listening on a free port. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Open proxied connections. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Drops every byte in both directions from now on; sockets stay open. */
  blackhole(): void {
    this.forwarding = false;
  }

  /** Forwards again (bytes dropped meanwhile are lost). */
  forward(): void {
    this.forwarding = true;
  }

  /** Resets every open connection on both sides (TCP RST). */
  reset(): void {
    for (const pair of this.pairs) {
      pair.downstream.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.downstream.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(downstream: Socket): void {
    this.accepted++;
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const pair: Pair = { downstream, upstream };
    this.pairs.add(pair);
    const pipe = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (this.forwarding && !to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('error', () => undefined);
      from.on('close', () => {
        this.pairs.delete(pair);
        to.destroy();
      });
    };
    pipe(downstream, upstream);
    pipe(upstream, downstream);
  }
}
