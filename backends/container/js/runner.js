// The runner protocol (guests/runner/src/lib.rs) on stdin/stdout, around the shared
// JavaScript catalogue (guests/js/catalogue.js, the same functions the v8 and deno backends
// run). The `node` image's /unitlab/runner.js is that catalogue followed by this file, so
// `handle(fn, size, seed)` below is the catalogue's.
//
//   -> "ready <pid>"                      once, first thing
//   <- "<function> <size> <seed>"         noop | cpu | alloc
//   -> "ok <value> <guest_ns>" | "err <message>"
//   <- "quit" or end of input             exit 0
'use strict';

function __unitlab_answer(line) {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 3 || !/^\d+$/.test(parts[1]) || !/^\d+$/.test(parts[2])) {
    return 'err malformed request: expected `<function> <size> <seed>`';
  }
  const fn = parts[0];
  const size = Number(parts[1]) >>> 0;
  const seed = Number(parts[2]) >>> 0;
  if (fn !== 'noop' && fn !== 'cpu' && fn !== 'alloc') {
    return `err unknown function \`${fn}\`; known: noop, cpu, alloc`;
  }
  const t0 = process.hrtime.bigint();
  let v;
  try {
    v = handle(fn, size, seed);
  } catch (e) {
    if (e instanceof RangeError) return `err out of memory allocating ${size} MiB (${e.message})`;
    return `err ${String(e && e.message).replace(/\n/g, ' ')}`;
  }
  const ns = process.hrtime.bigint() - t0;
  return `ok ${v >>> 0} ${ns}`;
}

process.stdout.write(`ready ${process.pid}\n`);
let __unitlab_pending = '';
process.stdin.setEncoding('latin1');
process.stdin.on('data', (chunk) => {
  __unitlab_pending += chunk;
  let nl;
  while ((nl = __unitlab_pending.indexOf('\n')) >= 0) {
    const line = __unitlab_pending.slice(0, nl);
    __unitlab_pending = __unitlab_pending.slice(nl + 1);
    if (line.startsWith('quit')) process.exit(0);
    process.stdout.write(__unitlab_answer(line) + '\n');
  }
});
process.stdin.on('end', () => process.exit(0));
