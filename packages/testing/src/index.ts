export type { Cluster, ClusterMode, StartClusterOptions } from './cluster.js';
export { type FaultProxy, startFaultProxy } from './fault-proxy.js';
export type { SilentServer } from './silent-server.js';
export { startSilentServer } from './silent-server.js';
export { startCluster } from './start-cluster.js';
export { whyNoContainerRuntime } from './testcontainers-cluster.js';
export {
  type RelayNeonConfig,
  startWebSocketRelay,
  type WebSocketRelay,
  type WebSocketRelayOptions,
} from './ws-relay.js';
