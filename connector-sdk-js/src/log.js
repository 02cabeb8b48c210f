// Logging through the host: messages go to Max's log (`max -v`) with the connector named.

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

let sink = (level, message) => console.error(`[${level}] ${message}`);

/** Where messages go: the host inside a component, stderr natively. */
export function setLogSink(next) { sink = next; }

/** Logs `message` at `level` (`trace`, `debug`, `info`, `warn` or `error`). */
export function log(level, message) {
  if (!LEVELS.includes(level)) throw new TypeError(`log level ${level}: one of ${LEVELS.join(', ')}`);
  sink(level, String(message));
}
