// The bench's latency rows use the same proxy.
export { ProxyMode, TcpProxy } from '../../stress-test/tcp-proxy';
