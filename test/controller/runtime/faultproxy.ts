// A named fault injector for cluster tests: a TCP proxy on 127.0.0.1 in front of the real kube-apiserver. TLS goes
// through it untouched (the apiserver's certificate names 127.0.0.1, whatever the port), and the test can cut
// connections, refuse new ones, or stall the open ones the way a half-dead network path does.
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class FaultProxy {
  /** Connections passed on, and turned away while refusing, so far. */
  accepted = 0;
  refused = 0;
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private refusing = false;

  constructor(target: URL) {
    this.server = createServer((client) => {
      if (this.refusing) {
        this.refused++;
        return void client.destroy();
      }
      this.accepted++;
      const upstream = connect(Number(target.port), target.hostname);
      const pair = { client, upstream };
      this.pairs.add(pair);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      for (const socket of [client, upstream]) {
        socket.on('error', close);
        socket.on('close', close);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('the proxy is not listening');
    return `https://127.0.0.1:${address.port}`;
  }

  /** Resets every open connection, as a crashed load balancer or a network partition would. */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** While on, new connections are closed as soon as they are accepted. */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Open connections stay open but carry nothing more in either direction: silence, not an error. */
  stall(): void {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
