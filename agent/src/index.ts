// Public surface of the agent package: start and stop a node agent.
export { runAgent, type AgentOptions, type AgentHandle } from './agent.js';
