import 'reflect-metadata';

export { Service } from './decorators/service.js';
export { Provider, type ProviderOptions } from './decorators/provider.js';
export { Consumer } from './decorators/consumer.js';
export { serviceOf, type Contract, type MethodOptions, type ServiceDefinition, type ServiceOptions } from './decorators/metadata.js';
export { Client, type ClientOptions } from './consumer/client.js';
export type { ReferenceOptions } from './consumer/reference.js';
export type { Remote } from './consumer/stub.js';
export type { ConnectionInfo } from './consumer/connection-registry.js';
export { Server, type ServerOptions, type ServerAddress } from './provider/server.js';
export { HeartlineError, hasCode, type HeartlineErrorOptions } from './errors/heartline-error.js';
export { ERROR_CODES, STATUS_OK, type ErrorCode } from './errors/codes.js';
export { ConnectionState } from './exchange/connection-state.js';
export type { Attachments } from './protocol/messages.js';
export { consoleLogger, silentLogger, type Logger } from './transport/logger.js';
