// tus baseline server for ferry-bench: @tus/server with its FileStore writing into argv[2].
// Prints "listening on HOST:PORT" like the ferry servers, so the bench starts it the same way.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const dir = process.argv[2];
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const srv = http.createServer((req, res) => tus.handle(req, res));
srv.listen(0, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${srv.address().port}`);
});
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
