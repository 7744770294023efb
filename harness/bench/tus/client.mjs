// tus baseline client for ferry-bench: uploads argv[3] to the tus endpoint argv[2] with
// tus-js-client, in chunks of argv[4] bytes (0 = one PATCH for the whole file), with
// parallelUploads argv[5] (default 1; above 1 needs the server's concatenation extension, which
// @tus/server 2.4.5 does not have), and prints {"seconds":…,"mb_s":…} from start to the
// server's final response.
import fs from 'node:fs';
import * as tus from 'tus-js-client';

const [, , endpoint, path, chunkArg, parallelArg] = process.argv;
const parallelUploads = Number(parallelArg) > 1 ? Number(parallelArg) : 1;
const size = fs.statSync(path).size;
const chunkSize = Number(chunkArg) > 0 ? Number(chunkArg) : Infinity;
const t0 = performance.now();
const upload = new tus.Upload(fs.createReadStream(path), {
  endpoint,
  chunkSize,
  parallelUploads,
  uploadSize: parallelUploads > 1 ? undefined : size,
  retryDelays: [0, 500, 1000],
  metadata: { filename: 'bench.bin' },
  onError: (e) => {
    console.error(`tus upload failed: ${e}`);
    process.exit(1);
  },
  onSuccess: () => {
    const seconds = (performance.now() - t0) / 1000;
    console.log(JSON.stringify({ seconds, mb_s: size / 1e6 / seconds }));
    process.exit(0);
  },
});
upload.start();
