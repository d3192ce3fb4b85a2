/**
 * Command-line flags that override the configuration (the highest precedence). `addConfigFlags` puts them
 * on a commander command (`run`, `config`, `doctor`); `readFlags` turns the parsed options back into key
 * paths. Values arrive as strings and are typed by the schema, so a bad flag is reported like a bad key.
 * There is deliberately no flag for the broker password: a command line is visible to every user in `ps`.
 */
import { Option, type Command } from 'commander';
import { coerce } from './coerce.js';
import { leafKind, schemaAt } from './keys.js';
import type { ConfigProblem } from './errors.js';
import { closest } from './suggest.js';
import { leafPaths } from './keys.js';
import { envNameFor } from './env.js';
import { configSchema } from './schema.js';

interface FlagSpec {
  /** commander flags, e.g. `--fps <n>` */
  flags: string;
  /** the option's attribute name as commander stores it */
  attr: string;
  /** dotted key */
  key: string;
  description: string;
  /** a flag without a value sets this */
  value?: unknown;
}

export const CONFIG_FLAGS: readonly FlagSpec[] = [
  { flags: '--source <source>', attr: 'source', key: 'source', description: 'v4l2:/dev/video0 | file:<video> | images:<folder> | test[:<pattern>] | gst:<launch>' },
  { flags: '--device-id <id>', attr: 'deviceId', key: 'deviceId', description: 'device id (MQTT topic level); default: host name' },
  { flags: '--width <px>', attr: 'width', key: 'capture.width', description: 'frame width (with --height)' },
  { flags: '--height <px>', attr: 'height', key: 'capture.height', description: 'frame height (with --width)' },
  { flags: '--fps <n>', attr: 'fps', key: 'capture.fps', description: 'frame rate to ask of the camera' },
  { flags: '--loop', attr: 'loop', key: 'capture.loop', description: 'play recorded sources in a loop', value: true },
  { flags: '--fast', attr: 'fast', key: 'capture.realtime', description: 'play recorded sources as fast as they decode', value: false },
  { flags: '--model <dir>', attr: 'model', key: 'model.path', description: 'model folder' },
  { flags: '--backend <name>', attr: 'backend', key: 'model.backend', description: 'auto | tensorflow | wasm | cpu' },
  { flags: '--engine <name>', attr: 'engine', key: 'model.engine', description: 'auto | tfjs | onnx' },
  { flags: '--onnx-threads <n>', attr: 'onnxThreads', key: 'model.onnx.threads', description: 'ONNX Runtime intra-op threads (0: all cores but one)' },
  { flags: '--broker <url>', attr: 'broker', key: 'mqtt.brokerUrl', description: 'MQTT broker URL (empty: embedded broker)' },
  { flags: '--topic-prefix <prefix>', attr: 'topicPrefix', key: 'mqtt.topicPrefix', description: 'MQTT topic prefix' },
  { flags: '--mqtt-username <user>', attr: 'mqttUsername', key: 'mqtt.username', description: 'broker user name' },
  { flags: '--mqtt-password-file <file>', attr: 'mqttPasswordFile', key: 'mqtt.passwordFile', description: 'file holding the broker password' },
  { flags: '--mqtt-ca <file>', attr: 'mqttCa', key: 'mqtt.tls.ca', description: 'CA certificate (PEM) that signed the broker certificate' },
  { flags: '--mqtt-cert <file>', attr: 'mqttCert', key: 'mqtt.tls.cert', description: 'client certificate (PEM), with --mqtt-key' },
  { flags: '--mqtt-key <file>', attr: 'mqttKey', key: 'mqtt.tls.key', description: 'client private key (PEM), with --mqtt-cert' },
  { flags: '--mqtt-key-passphrase-file <file>', attr: 'mqttKeyPassphraseFile', key: 'mqtt.tls.keyPassphraseFile', description: 'file holding the passphrase of an encrypted client key' },
  { flags: '--snapshots', attr: 'snapshots', key: 'mqtt.snapshot.enabled', description: 'publish JPEG snapshots', value: true },
  { flags: '--state-dir <dir>', attr: 'stateDir', key: 'outbox.stateDir', description: 'state folder (outbox)' },
  { flags: '--http-host <host>', attr: 'httpHost', key: 'http.host', description: 'health/metrics bind address' },
  { flags: '--http-port <port>', attr: 'httpPort', key: 'http.port', description: 'health/metrics port' },
  { flags: '--no-http', attr: 'http', key: 'http.enabled', description: 'no health/metrics HTTP server', value: false },
  { flags: '--display-port <port>', attr: 'displayPort', key: 'display.port', description: 'display page port' },
  { flags: '--log-level <level>', attr: 'logLevel', key: 'log.level', description: 'fatal | error | warn | info | debug | trace | silent' },
  { flags: '--log-pretty', attr: 'logPretty', key: 'log.pretty', description: 'human-readable logs', value: true },
  { flags: '--log-json', attr: 'logJson', key: 'log.pretty', description: 'JSON logs even on a terminal', value: false },
  { flags: '--max-frames <n>', attr: 'maxFrames', key: 'run.maxFrames', description: 'stop after this many frames' },
  { flags: '--duration <s>', attr: 'duration', key: 'run.durationS', description: 'stop after this many seconds' },
];

const collect = (v: string, acc: string[] = []): string[] => [...acc, v];

/**
 * Adds `--config <file>`, `--set <key=value>` (repeatable, any key) and the flags above to `command`.
 * The action then passes `command.opts()` to `loadConfig({ flags })`.
 */
export function addConfigFlags(command: Command): Command {
  command.option('-c, --config <file>', 'configuration file (default /etc/dermstream/config.yaml; missing default is fine)');
  command.option('--set <key=value>', 'set any key, e.g. --set mqtt.snapshot.maxHz=1 (repeatable); every key is also an env variable: DERMSTREAM_ + the path in UPPER_SNAKE_CASE, levels joined by __ (DERMSTREAM_MQTT__SNAPSHOT__MAX_HZ)', collect);
  for (const f of CONFIG_FLAGS) {
    command.addOption(new Option(f.flags, helpText(f)));
  }
  return command;
}

export interface FlagSetting {
  flag: string;
  path: string[];
  value: unknown;
}

/** Settings from the parsed options of a command that had `addConfigFlags`; unknown attributes are ignored. */
export function readFlags(opts: Record<string, unknown>): { settings: FlagSetting[]; problems: ConfigProblem[] } {
  const settings: FlagSetting[] = [];
  const problems: ConfigProblem[] = [];
  for (const f of CONFIG_FLAGS) {
    const v = opts[f.attr];
    if (v === undefined) continue;
    // A value-less flag arrives as a boolean: `true` when given, except a negated `--no-x`, which commander sets
    // to false when given and defaults to true. (Comparing with the key's value instead dropped `--fast` and
    // `--log-json`, whose keys they set to false.)
    if (typeof v === 'boolean' && v !== !f.flags.startsWith('--no-')) continue;
    const path = f.key.split('.');
    const flag = f.flags.split(' ')[0]!;
    const value = f.value !== undefined ? f.value : coerce(leafKind(path), v);
    settings.push({ flag, path, value });
  }
  const sets = opts.set;
  for (const s of Array.isArray(sets) ? (sets as unknown[]) : sets === undefined ? [] : [sets]) {
    const str = String(s);
    const eq = str.indexOf('=');
    const key = eq < 0 ? str : str.slice(0, eq);
    const flag = `--set ${key}`;
    if (eq < 0) {
      problems.push({ path: key, source: { kind: 'flag', flag }, message: 'missing "=value"', allowed: 'key=value, e.g. --set capture.fps=15' });
      continue;
    }
    const path = key.split('.');
    if (!schemaAt(path) || leafKind(path) === undefined) {
      const guess = closest(key, leafPaths().map((p) => p.join('.')));
      problems.push({
        path: key,
        source: { kind: 'flag', flag },
        message: `unknown key${guess ? `; did you mean ${guess}?` : ''}`,
        allowed: 'a dotted key of a single value, as `dermstream config --print` shows them',
      });
      continue;
    }
    settings.push({ flag, path, value: coerce(leafKind(path), str.slice(eq + 1)) });
  }
  return { settings, problems };
}

let builtInDefaults: unknown;
/**
 * The flag's description with the key's built-in default and its environment variable, for `--help`.
 * Written into the text rather than given to commander's `.default()`/`.env()`, which would set the value
 * themselves and make every default look like a flag the operator gave.
 */
function helpText(f: FlagSpec): string {
  const path = f.key.split('.');
  builtInDefaults ??= configSchema.safeParse({}).data ?? {};
  let v: unknown = builtInDefaults;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  const shown = v === undefined || v === '' ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
  const noDefault = f.value !== undefined || /default:/.test(f.description);
  return `${f.description} (${!noDefault && shown !== undefined ? `default: ${shown}; ` : ''}env ${envNameFor(path)})`;
}
