export * from './types';
export { ConnectorRegistry, defaultConnectors } from './registry';
export { HTTP_CONNECTOR, createHttpConnectors, httpInputConnector, httpOutputConnector, parseHttpAccess, joinUrl, redactUrl, type HttpAccess } from './http';
export { LOCAL_CONNECTOR, localInputConnector } from './local';
export { FTP_CONNECTOR, createFtpConnectors, parseFtpAccess, type FtpAccess, type FtpConnectorOptions } from './ftp';
export { httpRequest, digestAuthorization, HttpTransportError, type HttpAuth, type HttpRequestOptions } from './http-client';
export { HostPolicy, HostRefusedError, ALLOW_HOSTS_ENV, allowedConnectorHosts, listeningAddresses, refusedReason, type HostPolicyOptions } from './host-policy';
