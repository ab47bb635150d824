// The floor under the deno backend's cold start: a Worker of a near-empty module, created N
// times in a loop in one deno process, with nothing of unitlab around it.
//
//   deno run -A --no-config --no-lock backends/deno/js/floor.js [N=60]
//
// Per sample: `ctor` = the `new Worker` call itself (Deno blocks the calling thread until the
// worker's thread has built its runtime), `ready` = `new Worker` until the worker's first
// message, `first_rt` = one more message round trip (the first call; a fresh isolate compiles
// Deno's message path on first use), `total` = ready + first_rt. After each sample the worker
// is terminated and the loop waits until its thread ("worker-<k>") has exited, as the
// backend's stop does, so no teardown overlaps the next sample. -A: Deno allows reading
// /proc/self only with all permissions. Prints one JSON line, times in ms.

const N = Number(Deno.args[0] ?? 60);
const WARMUP = 5;
const url = URL.createObjectURL(
  new Blob([`self.onmessage = (e) => self.postMessage(e.data); self.postMessage(0);`], {
    type: "application/javascript",
  }),
);

function workerThreadAlive() {
  for (const e of Deno.readDirSync("/proc/self/task")) {
    try {
      if (Deno.readTextFileSync(`/proc/self/task/${e.name}/comm`).startsWith("worker-")) {
        return true;
      }
    } catch (_) { /* the thread exited while we looked */ }
  }
  return false;
}

const s = { ctor: [], ready: [], first_rt: [], total: [] };
for (let i = 0; i < N + WARMUP; i++) {
  const t0 = performance.now();
  const w = new Worker(url, { type: "module" });
  const tc = performance.now();
  await new Promise((r) => (w.onmessage = r));
  const t1 = performance.now();
  w.postMessage(1);
  await new Promise((r) => (w.onmessage = r));
  const t2 = performance.now();
  w.terminate();
  while (workerThreadAlive()) await new Promise((r) => setTimeout(r, 0));
  if (i >= WARMUP) {
    s.ctor.push(tc - t0);
    s.ready.push(t1 - t0);
    s.first_rt.push(t2 - t1);
    s.total.push(t2 - t0);
  }
}

function quantile(v, p) {
  const a = [...v].sort((x, y) => x - y);
  return Number(a[Math.min(a.length - 1, Math.floor(p * a.length))].toFixed(3));
}
const out = { n: N, deno: Deno.version.deno, load: Deno.loadavg()[0] };
for (const [k, v] of Object.entries(s)) {
  out[`${k}_p50`] = quantile(v, 0.5);
  out[`${k}_p99`] = quantile(v, 0.99);
}
console.log(JSON.stringify(out));
