// Starts an example app on PORT (default 3000), prints its start-up text, and shuts down cleanly.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';

export interface ServeOptions {
  /** What to print once the server listens, given its URL. Its last line says it is listening. */
  startUpText: (url: string) => string;
  /** Called on Ctrl+C (or SIGTERM) once the server is closed: close the database pool here. */
  onClose: () => Promise<void>;
}

export function serve(app: Express, { startUpText, onClose }: ServeOptions): Server {
  const port = Number(process.env.PORT || 3000);
  const server = app.listen(port, (error?: Error) => {
    if (error) {
      console.error(
        (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
          ? `Port ${port} is already in use: pick another one with PORT, e.g. PORT=3001.`
          : error,
      );
      process.exit(1);
    }
    // The port actually bound: PORT=0 asks the system for any free one.
    console.log(startUpText(`http://localhost:${(server.address() as AddressInfo).port}`));
  });
  // Event streams may be open: end them, then close the pool, so Ctrl+C exits at once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.closeAllConnections();
      server.close(() => void onClose().finally(() => process.exit(0)));
    });
  }
  return server;
}
