// unitlab's catalogue in JavaScript, speaking the runner protocol (backends/runner/src/lib.rs)
// on stdin/stdout. The `node` image of the container backend runs it as its entrypoint, so
// that a container's cold start includes booting a language runtime.
//
//   -> "ready <pid>"                      once, first thing
//   <- "<function> <size> <seed>"         noop | cpu | alloc
//   -> "ok <value> <guest_ns>" | "err <message>"
//   <- "quit" or end of input             exit 0
//
// The kernels use 32-bit arithmetic only (Math.imul, >>> 0), as in backends/core/src/catalogue.rs.
'use strict';

const NOOP_VALUE = 0x2a2a2a2a;
const FNV_OFFSET = 2166136261;
const FNV_PRIME = 16777619;
const PAGE = 4096;

function fnv(h, b) {
  return Math.imul(h ^ b, FNV_PRIME) >>> 0;
}

function cpu(kib, seed) {
  let x = (seed ^ 0x9e3779b9) >>> 0;
  if (x === 0) x = 1;
  let h = FNV_OFFSET;
  const n = kib * 1024;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    h = fnv(h, x & 0xff);
  }
  return h >>> 0;
}

function alloc(mib, seed) {
  const len = mib * 1048576;
  const buf = new Uint8Array(len);
  for (let p = 0; p * PAGE < len; p++) buf[p * PAGE] = (p * 7 + seed) & 0xff;
  let h = FNV_OFFSET;
  for (let p = 0; p * PAGE < len; p++) h = fnv(h, buf[p * PAGE]);
  return h >>> 0;
}

function answer(line) {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 3 || !/^\d+$/.test(parts[1]) || !/^\d+$/.test(parts[2])) {
    return 'err malformed request: expected `<function> <size> <seed>`';
  }
  const [fn, size, seed] = [parts[0], Number(parts[1]) >>> 0, Number(parts[2]) >>> 0];
  const t0 = process.hrtime.bigint();
  let v;
  switch (fn) {
    case 'noop':
      v = NOOP_VALUE;
      break;
    case 'cpu':
      v = cpu(size, seed);
      break;
    case 'alloc':
      try {
        v = alloc(size, seed);
      } catch (e) {
        return `err out of memory allocating ${size} MiB (${e.message})`;
      }
      break;
    default:
      return `err unknown function \`${fn}\`; known: noop, cpu, alloc`;
  }
  const ns = process.hrtime.bigint() - t0;
  return `ok ${v} ${ns}`;
}

process.stdout.write(`ready ${process.pid}\n`);
let pending = '';
process.stdin.setEncoding('latin1');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.startsWith('quit')) process.exit(0);
    process.stdout.write(answer(line) + '\n');
  }
});
process.stdin.on('end', () => process.exit(0));
