// Public surface of capture/: planning and applying the BPF capture state of this node.
export { CaptureReconciler, readLocalAddrs, type CaptureStatus, type PodCaptureStatus, type InterfaceStatus } from './reconciler.js';
export { planCapture, type CaptureOp, type Desired, type KernelState } from './plan.js';
export { parseNetDev, parseRoutes, routeInterface, ipToU32 } from './netinfo.js';
export { installPolicyRouting, removePolicyRouting } from './routing.js';
export { NetWatch, type NetWatchOptions } from './netwatch.js';
