/**
 * Where the library reports what a host should know about: misconfiguration warnings and errors
 * answered with a 5xx. `console` fits, and so do pino, winston and most loggers.
 */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

export const consoleLogger: Logger = {
  warn: (message, details) =>
    details ? console.warn(`[express-agent-router] ${message}`, details) : console.warn(`[express-agent-router] ${message}`),
  error: (message, details) =>
    details ? console.error(`[express-agent-router] ${message}`, details) : console.error(`[express-agent-router] ${message}`),
};
