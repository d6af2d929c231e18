// Public surface of model/: Kubernetes objects (from YAML or the API) in, validated readonly domain
// objects out. Wire shapes never travel past this folder.

export * from './types.js';
export { parseManifests, formatProblem, type ParsedObject, type ParseResult } from './parse.js';
export { convertObject, objectId, setCrdDir, type ConvertResult } from './convert.js';
export { emptyResources, addObject, resourcesFrom } from './resources.js';
export { SERVICE_NAME_LABEL } from './network.js';
export { parseRoute, HTTP_METHODS, DEFAULT_RETRY } from './routes.js';
export { faultPolicyOf, rateLimitPolicyOf } from './policies.js';
export type { BackendObjectRef, FaultPolicy, GrpcRouteMatch, HeaderModifier, HttpRouteMatch, PathModifier, RateLimitPolicy, RouteFilter, RouteParentStatus, RouteRetry, RouteRule, StringMatch } from './route-types.js';
