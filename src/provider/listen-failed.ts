import { HeartlineError } from '../errors/heartline-error.js';

/** LISTEN_FAILED for a failed bind: names the address, says why in words, and how to get out of it. */
export function listenFailed(err: NodeJS.ErrnoException & { address?: string }, host: string | undefined, port: number): HeartlineError {
  const h = host ?? err.address ?? '::';
  const address = h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
  let why: string;
  switch (err.code) {
    case 'EADDRINUSE':
      why = 'the address is already in use (EADDRINUSE): another process, or another Server here, listens on it. Stop it, choose another port, or pass port: 0 to take a free one';
      break;
    case 'EADDRNOTAVAIL':
      why = 'no interface of this machine has this address (EADDRNOTAVAIL): check host';
      break;
    case 'EACCES':
      why = 'permission denied (EACCES): ports below 1024 need privileges';
      break;
    default:
      why = err.message;
  }
  return new HeartlineError('LISTEN_FAILED', `cannot listen on ${address}: ${why}`, { cause: err });
}
