// tus baseline server for ferry-bench: @tus/server with its FileStore writing into argv[2],
// listening on argv[3] (default 127.0.0.1; `upload --link` gives namespace A's address).
// Prints "listening on HOST:PORT" like the ferry servers, so the bench starts it the same way.
// No request timeout: one PATCH through a slow emulated link may take longer than Node's
// default 300 s.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const dir = process.argv[2];
const host = process.argv[3] || '127.0.0.1';
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const srv = http.createServer({ requestTimeout: 0 }, (req, res) => tus.handle(req, res));
srv.listen(0, host, () => {
  console.log(`listening on ${host}:${srv.address().port}`);
});
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
