// Public surface of explain/: pure answers to "is this pod meshed, and why" and "what happens to a
// connection from this pod to that address" (nodemesh explain, the UI).
export { explainPod, explainPair, type PodExplanation, type PodReport, type PairExplanation, type PairInput, type HopExplanation, type Check } from './explain.js';
