// A run directory written by python/gatescope (or anything following python/README.md's contract), read
// without touching a file system: the tailed event lines, the records, the session's state, the tensor
// files' module prefixes, probe heatmaps and saturation, and the diff of two watched modules.
export { LineSplitter } from './lines';
export * from './events';
export * from './runState';
export * from './probes';
export * from './moduleDiff';
