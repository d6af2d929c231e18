// Public surface of dashboard/: the controller's web UI and insight API server.
export { DashboardServer, readUserTokens, type DashboardOptions } from './server.js';
export { Insight, ADMIN, maySee, parseWindow, type Caller, type InsightSource } from './api.js';
export { KubeUserAuth, INSIGHT_GROUP, type Access, type KubeUserAuthOptions } from './kube-auth.js';
