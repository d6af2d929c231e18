// Public surface of the controller package: start and stop a controller.
export { runController, type ControllerOptions, type ControllerHandle } from './controller.js';
export { TokenFileAuth, type NodeAuth } from './server/auth.js';
export { TokenReviewAuth, type TokenReviewOptions } from './server/tokenreview.js';
export { CaManager, MeshCA, DirCaStore, SecretCaStore, openCa, type CaInfo, type CaMaterial, type MeshCaOptions } from './ca/index.js';
