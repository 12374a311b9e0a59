// Gateway configuration: file loading, validation and the resolved types (docs/config.md).
export { loadConfigFile } from './load-config.ts';
export { parseConfigText, type ConfigResult, type ParseOptions } from './parse-config.ts';
export { DEFAULTS, DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, DEFAULT_LISTEN } from './defaults.ts';
export type * from './types.ts';
