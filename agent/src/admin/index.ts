// Public surface of admin/: the HTTP admin endpoint of the agent.
export { AdminServer, type AdminSources } from '../../../common/admin-server.js';
