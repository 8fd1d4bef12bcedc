// A tiny authoritative DNS server over UDP on 127.0.0.1, port 0, for tests:
// it answers A, AAAA and SRV questions from a table the test changes at will,
// answers NXDOMAIN for names not in the table (NOERROR with no answer, NODATA,
// for a known name without records of the asked type), and can be switched to
// answer SERVFAIL or to go silent (the resolver then times out).
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvRecord {
  priority?: number;
  weight?: number;
  port: number;
  /** The target's host name (resolved through this responder's A/AAAA records). */
  target: string;
}

/** The records of one name. A name present with no records answers NODATA. */
export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvRecord[];
}

/** How the responder treats every question. */
export type DnsMode = 'answer' | 'silent' | 'servfail';

const TYPES = { A: 1, AAAA: 28, SRV: 33 } as const;
type RecordType = keyof typeof TYPES;
const TYPE_NAMES = new Map<number, RecordType>(Object.entries(TYPES).map(([name, code]) => [code, name as RecordType]));

export interface DnsResponder {
  /** `127.0.0.1:<port>`, for `resolver.setServers([server])`. */
  readonly server: string;
  /** The records served, by lower-case name without a trailing dot. Change it at will. */
  readonly table: Map<string, DnsRecords>;
  mode: DnsMode;
  /** Questions received, in order, as `TYPE name` (`A svc.test`), whatever the mode. */
  readonly queries: string[];
  /** Questions received for `name` (of `type` when given). */
  count(name: string, type?: RecordType): number;
  close(): Promise<void>;
}

export async function startDnsResponder(table: Record<string, DnsRecords> = {}): Promise<DnsResponder> {
  const socket = createSocket('udp4');
  const records = new Map(Object.entries(table).map(([name, r]) => [normalize(name), r]));
  const queries: string[] = [];
  const responder: DnsResponder = {
    server: '',
    table: records,
    mode: 'answer',
    queries,
    count: (name, type) => queries.filter((q) => q.endsWith(` ${normalize(name)}`) && (type === undefined || q.startsWith(`${type} `))).length,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg: Buffer, peer: RemoteInfo) => {
    const question = parseQuestion(msg);
    if (question === undefined) return;
    queries.push(`${TYPE_NAMES.get(question.type) ?? question.type} ${normalize(question.name)}`);
    if (responder.mode === 'silent') return;
    const reply = answer(msg, question, responder.mode === 'servfail' ? undefined : records);
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  Object.assign(responder, { server: `127.0.0.1:${socket.address().port}` });
  return responder;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

interface Question {
  name: string;
  type: number;
  /** Offset just past the question section. */
  end: number;
}

/** The first question of a query (header of 12 bytes, then labels, type and class). */
function parseQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at]!;
    at++;
    if (len === 0) break;
    labels.push(msg.toString('ascii', at, at + len));
    at += len;
  }
  if (at + 4 > msg.length) return undefined;
  return { name: labels.join('.'), type: msg.readUInt16BE(at), end: at + 4 };
}

/** The response to `query`: its question echoed, then the answers; SERVFAIL when `records` is undefined. */
function answer(query: Buffer, q: Question, records: Map<string, DnsRecords> | undefined): Buffer {
  const entry = records?.get(normalize(q.name));
  const type = TYPE_NAMES.get(q.type);
  const answers: Buffer[] = [];
  if (entry !== undefined && type !== undefined) {
    for (const record of entry[type] ?? []) answers.push(resourceRecord(q.type, rdata(type, record)));
  }
  // QR, opcode 0, AA, RD copied from the query, RA; rcode 0 (NOERROR), 2 (SERVFAIL) or 3 (NXDOMAIN).
  const rcode = records === undefined ? 2 : entry === undefined ? 3 : 0;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

/** One answer: its name is a pointer to the question's (offset 12), class IN, TTL 1 s. */
function resourceRecord(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(1, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function rdata(type: RecordType, record: string | SrvRecord): Buffer {
  if (type === 'A') {
    if (typeof record !== 'string' || !isIPv4(record)) throw new Error(`not an IPv4 address: ${String(record)}`);
    return Buffer.from(record.split('.').map(Number));
  }
  if (type === 'AAAA') {
    if (typeof record !== 'string' || !isIPv6(record)) throw new Error(`not an IPv6 address: ${String(record)}`);
    return ipv6Bytes(record);
  }
  const srv = record as SrvRecord;
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(srv.priority ?? 0, 0);
  fixed.writeUInt16BE(srv.weight ?? 100, 2);
  fixed.writeUInt16BE(srv.port, 4);
  return Buffer.concat([fixed, encodeName(srv.target)]);
}

function encodeName(name: string): Buffer {
  const parts = normalize(name).split('.').filter((l) => l.length > 0);
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head === '' ? [] : head!.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
