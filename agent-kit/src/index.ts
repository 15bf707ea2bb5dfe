export { AgentServer, dialRoom, type AgentServerEvents, type AgentServerOptions, type DialRoomOptions } from './server';
export { AgentSession } from './session';
export * from './types';
