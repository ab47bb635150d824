// unitlab function catalogue, JavaScript guest version (shared by the `v8` and `deno` backends).
//
// CONTRACT (keep stable: backends/v8 embeds this file with include_str!, backends/deno wraps it):
//
// - Pure ECMAScript (ES2015+), no imports/exports, no host APIs (no console, no Deno, no
//   require): it is evaluated as a classic script in a bare V8 context, where its top-level
//   function declarations become globals. A module wrapper (deno) can append
//   `export { handle, noop, cpu, alloc };` or evaluate it with `new Function`/indirect eval.
// - Globals defined:
//     handle(fn, size, seed) -> u32   fn is "noop" | "cpu" | "alloc"; throws on other names
//     noop()                -> u32    always 0x2A2A2A2A
//     cpu(size, seed)       -> u32    FNV-1a 32 over size*1024 xorshift32 bytes
//     alloc(size, seed)     -> u32    allocates size MiB, touches every 4 KiB page, hashes
//                                     the bytes read back
//   plus helper names prefixed with `__unitlab_` (do not rely on them).
// - Every result is an unsigned 32-bit integer as a JS number (0 <= v < 2^32).
// - Semantics are defined by backends/core/src/catalogue.rs (the Rust reference); see that
//   file for the xorshift32 seeding and FNV-1a constants.

var __unitlab_NOOP_VALUE = 0x2a2a2a2a;
var __unitlab_FNV_OFFSET = 0x811c9dc5; // 2166136261
var __unitlab_FNV_PRIME = 0x01000193; // 16777619
var __unitlab_PAGE = 4096;

function noop() {
  return __unitlab_NOOP_VALUE;
}

function cpu(size, seed) {
  // xorshift32 (13, 17, 5) seeded with seed ^ 0x9E3779B9 (1 if zero); int32 ops, logical >>>.
  var x = ((seed >>> 0) ^ 0x9e3779b9) | 0;
  if (x === 0) x = 1;
  var h = __unitlab_FNV_OFFSET | 0;
  var n = (size >>> 0) * 1024;
  for (var i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    h = Math.imul(h ^ (x & 0xff), __unitlab_FNV_PRIME);
  }
  return h >>> 0;
}

function alloc(size, seed) {
  var len = (size >>> 0) * 1048576;
  var buf = new Uint8Array(len);
  var s = seed >>> 0;
  var pages = Math.floor(len / __unitlab_PAGE);
  var p;
  for (p = 0; p < pages; p++) {
    // (p * 7 + seed) & 0xff, computed without leaving exact integer range.
    buf[p * __unitlab_PAGE] = ((p * 7) % 256 + (s & 0xff)) & 0xff;
  }
  var h = __unitlab_FNV_OFFSET | 0;
  for (p = 0; p < pages; p++) {
    h = Math.imul(h ^ buf[p * __unitlab_PAGE], __unitlab_FNV_PRIME);
  }
  return h >>> 0;
}

function handle(fn, size, seed) {
  switch (fn) {
    case "noop":
      return noop();
    case "cpu":
      return cpu(size, seed);
    case "alloc":
      return alloc(size, seed);
    default:
      throw new Error("unitlab catalogue: unknown function " + String(fn));
  }
}
