/**
 * Configuration of the service: one YAML file, DERMSTREAM_* environment variables and command-line flags
 * (in rising precedence), validated by zod. See deploy/jetson/README.md and configs/ for examples.
 */
export { loadConfig, isWritableDir, deviceIdFromHostname, DEFAULT_CONFIG_PATH, DEFAULT_STATE_DIR, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { addConfigFlags, readFlags, CONFIG_FLAGS } from './flags.js';
export { envNameFor, pathForEnv, readEnv, ENV_PREFIX, ENV_ALIASES, CONFIG_PATH_ENV } from './env.js';
export { ConfigError, isConfigError, describeSource, formatProblem, EX_CONFIG, type ConfigProblem, type ConfigSource } from './errors.js';
export { printConfig, maskSecrets } from './print.js';
export { configSchema, SECRET_KEYS, LOG_LEVELS, BACKENDS, type DermstreamConfig, type ConfigInput } from './schema.js';
export { levenshtein, closest } from './suggest.js';
export { runOptionsFrom } from './run_options.js';
export { resolveOperatingPoint, operatingPointInForce, THRESHOLD_KEY, MARGIN_KEY, type OperatingPointInForce } from './operating_point.js';
