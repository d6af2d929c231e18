// Public surface of routes/: what the controller reports about Gateway API mesh routes (status per
// parentRef), computed purely from the cluster resources and the rejected objects.
export { CONTROLLER_NAME, backendProblem, isMeshParent, routeKey, routeStatuses, type RouteCondition, type RouteHead, type RouteKind, type RouteStatus } from './status.js';
