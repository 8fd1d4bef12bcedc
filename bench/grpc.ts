// @grpc/grpc-js unary Echo on the same payload, one channel = one HTTP/2 connection.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { EchoClient, EchoServer, EchoSystem } from './system.js';
import type { Payload } from './workload.js';

const PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

type EchoMethod = (req: Payload, cb: (err: grpc.ServiceError | null, res?: Payload) => void) => grpc.ClientUnaryCall;

function loadEcho(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true, arrays: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { bench: { Echo: grpc.ServiceClientConstructor } };
  return pkg.bench.Echo;
}

async function serve(): Promise<EchoServer> {
  const Echo = loadEcho();
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Echo: (call: grpc.ServerUnaryCall<Payload, Payload>, cb: grpc.sendUnaryData<Payload>) => cb(null, call.request),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

async function connect([port]: number[]): Promise<EchoClient> {
  const Echo = loadEcho();
  // A private subchannel pool so each connect() really opens its own connection.
  const stub = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  await new Promise<void>((resolve, reject) =>
    stub.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())),
  );
  const call = (stub.Echo as EchoMethod).bind(stub);
  return {
    echo: (payload) =>
      new Promise<Payload>((resolve, reject) => {
        call(payload, (err, res) => (err ? reject(err) : resolve(res!)));
      }),
    close: async () => stub.close(),
  };
}

export const system: EchoSystem = { serve, connect };
