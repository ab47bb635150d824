// unitlab Deno host: one long-lived Deno process; every unit is a Worker (its own V8 isolate).
//
// The harness (backends/deno/src/host.rs) drives this script over stdin/stdout with JSON
// lines. Every request carries an `id`; every reply echoes it. Replies can arrive in any order
// (workers run in parallel), so the harness dispatches them by id.
//
// On start the host writes one line: {"id":0,"ok":true,"ready":true,"pid":...,"versions":{...}}.
//
// Requests (harness -> host), replies (host -> harness):
//   {"id","op":"define","kind":"script","code":"...","entry":"cpu"}
//   {"id","op":"define","kind":"module","url":"file:///.../f.js"}
//       -> {"id","ok":true,"def":D}      registers worker code once (a Blob URL); no worker yet
//   {"id","op":"start","def":D,"timeout_ms":T}
//       -> {"id","ok":true,"unit":U,"create_ns":C,"host_ns":H,"thread":N}
//          C = `new Worker` until the worker's first ("ready") message, measured here.
//          N = the name Deno gives the worker's OS thread, "worker-<k>" where k counts the
//          Workers this process has created (1, 2, ...; assumes user code creates no nested
//          workers). The harness watches /proc/<pid>/task for it to learn when a stopped
//          worker's thread (and so its isolate) is really gone.
//   {"id","op":"invoke","unit":U,"size":S,"seed":X,"deadline_ms":T}
//       -> {"id","ok":true,"value":V,"guest_ns":G,"host_ns":H}
//          G = the handler call as the worker measured it (performance.now() around it).
//   {"id","op":"memory","unit":U}
//       -> {"id","ok":true,"heap_used","heap_total","external","rss","live"}
//          heap_* and external come from Deno.memoryUsage() inside the worker (its isolate);
//          rss is the whole process.
//   {"id","op":"stop","unit":U}       -> {"id","ok":true}   (worker.terminate(); Deno drops the
//                                         isolate on the worker's thread after this reply)
//   {"id","op":"stats"}               -> {"id","ok":true,"live","heap_used","heap_total","rss"}
// H (host_ns) is the time from parsing the request line to writing its reply, so the harness
// can subtract it from its round trip and report the pipe (IPC) cost apart.
//
// Failures: {"id","ok":false,"error":E,"message":"..."} with E one of
//   "guest"     the handler threw (or returned something that is not a number),
//   "deadline"  the invoke ran past deadline_ms: the worker was terminated, the unit is dead,
//   "start"     the worker failed to load (syntax error, missing handler) or was not ready in
//               timeout_ms,
//   "dead"      the unit died earlier (deadline, uncaught error) and cannot be used,
//   "request"   malformed request or unknown unit/definition.
// A V8 out-of-memory in any worker aborts this whole process ("Fatal JavaScript out of
// memory"): the harness sees EOF, reads stderr and restarts the host.
// EOF on stdin ends the host (and all workers). Workers' console output goes to stderr, so
// that stdout carries nothing but protocol lines.

const encoder = new TextEncoder();
const NS = 1e6; // performance.now() is in milliseconds

function send(obj) {
  const bytes = encoder.encode(JSON.stringify(obj) + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

function ns(ms) {
  return Math.max(0, Math.round(ms * NS));
}

// stdout is the protocol pipe: a worker's console output goes to stderr instead. Deno's
// count/time helpers write to stdout internally, so they are reimplemented here. A script
// worker (the catalogue) runs this inline, before the script; a module worker imports it as
// its first module, so that it also precedes the user module's top-level code (imports are
// evaluated before the importing module's body). Inline saves one module load per worker.
const CONSOLE_SRC = `{
const e = console.error.bind(console);
for (const k of ["log", "info", "debug", "dir", "dirxml", "table"]) console[k] = e;
const counts = new Map();
const timers = new Map();
console.count = (l = "default") => {
  const n = (counts.get(l) ?? 0) + 1;
  counts.set(l, n);
  e(l + ": " + n);
};
console.countReset = (l = "default") => void counts.delete(l);
console.time = (l = "default") => void timers.set(l, performance.now());
console.timeLog = (l = "default", ...a) =>
  e(l + ": " + (performance.now() - (timers.get(l) ?? NaN)).toFixed(3) + "ms", ...a);
console.timeEnd = (l = "default") => {
  console.timeLog(l);
  timers.delete(l);
};
}
`;
const CONSOLE_TO_STDERR = URL.createObjectURL(
  new Blob([CONSOLE_SRC], { type: "application/javascript" }),
);

// The wrapper every worker runs. HEAD (console redirect, inline or imported) and PRELUDE
// (loads the function) are chosen per definition.
function workerSource(head, prelude) {
  return `${head}
${prelude}
if (typeof __unitlab_entry !== "function") {
  self.postMessage({ t: "fail", message: __unitlab_missing });
} else {
  self.onmessage = async (e) => {
    const d = e.data;
    if (d.op === "invoke") {
      const t0 = performance.now();
      try {
        let v = __unitlab_entry(d.size, d.seed);
        if (v !== null && typeof v === "object" && typeof v.then === "function") v = await v;
        const t1 = performance.now();
        if (typeof v !== "number" || !Number.isFinite(v)) {
          self.postMessage({ t: "error", message: "the handler returned " + String(v) +
            " (" + typeof v + "), expected a number (it is converted with >>> 0)" });
        } else {
          self.postMessage({ t: "result", value: v >>> 0, guest_ms: t1 - t0 });
        }
      } catch (err) {
        // Drop Deno's internal frames and this wrapper's own frame from the stack.
        const message = err && err.stack
          ? String(err.stack).split("\\n")
            .filter((l) => !/\\((ext:[^)]*|blob:[^()]*)\\)$/.test(l.trim())).join("\\n")
          : String(err);
        self.postMessage({ t: "error", message });
      }
    } else if (d.op === "memory") {
      self.postMessage({ t: "memory", m: Deno.memoryUsage() });
    }
  };
  self.postMessage({ t: "ready" });
}
`;
}

function scriptPrelude(code, entry) {
  // Indirect eval runs the catalogue as a classic (sloppy) global script, so its top-level
  // function declarations become globals of the worker, as in a bare V8 context.
  return `(0, eval)(${JSON.stringify(code)});
const __unitlab_entry = globalThis[${JSON.stringify(entry)}];
const __unitlab_missing = ${JSON.stringify(`the script defines no global function \`${entry}\``)};`;
}

function modulePrelude(url) {
  return `import * as __unitlab_m from ${JSON.stringify(url)};
const __unitlab_entry = typeof __unitlab_m.default === "function" ? __unitlab_m.default
  : typeof __unitlab_m.handler === "function" ? __unitlab_m.handler
  : globalThis.handler;
const __unitlab_missing = ${JSON.stringify(`${url} has no \`export default function\`, no exported \`handler\` function and sets no global \`handler\``)};`;
}

const defs = new Map(); // def id -> Blob URL
const units = new Map(); // unit id -> { worker, dead, pending }
let nextDef = 1;
let nextUnit = 1;
let workersCreated = 0; // Deno numbers worker threads "worker-1", "worker-2", ... per process

function liveUnits() {
  let n = 0;
  for (const u of units.values()) if (!u.dead) n++;
  return n;
}

function fail(id, error, message, t0) {
  send({ id, ok: false, error, message, host_ns: ns(performance.now() - t0) });
}

function killUnit(unit) {
  unit.dead = true;
  if (unit.timer !== undefined) clearTimeout(unit.timer);
  unit.timer = undefined;
  try {
    unit.worker.terminate();
  } catch (_) { /* already gone */ }
}

function onWorkerMessage(uid, unit, e) {
  const d = e.data;
  const p = unit.pending;
  if (d.t === "ready" || d.t === "fail") {
    if (!p || p.op !== "start") return;
    unit.pending = undefined;
    clearTimeout(unit.timer);
    unit.timer = undefined;
    const now = performance.now();
    if (d.t === "ready") {
      send({
        id: p.id,
        ok: true,
        unit: uid,
        create_ns: ns(now - p.tw),
        host_ns: ns(now - p.t0),
        thread: p.thread,
      });
    } else {
      killUnit(unit);
      units.delete(uid);
      fail(p.id, "start", d.message, p.t0);
    }
    return;
  }
  if (!p) return;
  unit.pending = undefined;
  if (unit.timer !== undefined) clearTimeout(unit.timer);
  unit.timer = undefined;
  if (d.t === "result") {
    send({
      id: p.id,
      ok: true,
      value: d.value,
      guest_ns: ns(d.guest_ms),
      host_ns: ns(performance.now() - p.t0),
    });
  } else if (d.t === "error") {
    fail(p.id, "guest", d.message, p.t0);
  } else if (d.t === "memory") {
    const m = d.m;
    send({
      id: p.id,
      ok: true,
      heap_used: m.heapUsed,
      heap_total: m.heapTotal,
      external: m.external,
      rss: m.rss,
      live: liveUnits(),
      host_ns: ns(performance.now() - p.t0),
    });
  }
}

function onWorkerError(uid, unit, e) {
  // An uncaught error closes a Deno worker: a load failure (syntax error, failed import) before
  // "ready", or an error thrown outside the handler (e.g. in a timer) later.
  e.preventDefault();
  const p = unit.pending;
  unit.pending = undefined;
  killUnit(unit);
  if (!p) return;
  if (p.op === "start") {
    units.delete(uid);
    fail(p.id, "start", e.message, p.t0);
  } else {
    fail(p.id, "guest", "uncaught error, the worker closed: " + e.message, p.t0);
  }
}

function handle(req, t0) {
  const id = req.id;
  switch (req.op) {
    case "define": {
      let source;
      if (req.kind === "script") {
        source = workerSource(CONSOLE_SRC, scriptPrelude(String(req.code), String(req.entry)));
      } else if (req.kind === "module") {
        source = workerSource(
          `import ${JSON.stringify(CONSOLE_TO_STDERR)};`,
          modulePrelude(String(req.url)),
        );
      } else return fail(id, "request", `unknown define kind ${req.kind}`, t0);
      const blob = new Blob([source], { type: "application/javascript" });
      const def = nextDef++;
      defs.set(def, URL.createObjectURL(blob));
      return send({ id, ok: true, def, host_ns: ns(performance.now() - t0) });
    }
    case "start": {
      const url = defs.get(req.def);
      if (url === undefined) return fail(id, "request", `unknown definition ${req.def}`, t0);
      const uid = nextUnit++;
      const tw = performance.now();
      let worker;
      try {
        worker = new Worker(url, { type: "module", name: `unit-${uid}` });
      } catch (err) {
        return fail(id, "start", String(err), t0);
      }
      const thread = `worker-${++workersCreated}`;
      const unit = {
        worker,
        dead: false,
        pending: { op: "start", id, t0, tw, thread },
        timer: undefined,
      };
      units.set(uid, unit);
      worker.onmessage = (e) => onWorkerMessage(uid, unit, e);
      worker.onerror = (e) => onWorkerError(uid, unit, e);
      worker.onmessageerror = (e) => onWorkerError(uid, unit, e);
      const timeout = Number(req.timeout_ms);
      if (timeout > 0) {
        unit.timer = setTimeout(() => {
          const p = unit.pending;
          unit.pending = undefined;
          killUnit(unit);
          units.delete(uid);
          if (p) fail(p.id, "start", `the worker was not ready within ${timeout} ms and was terminated`, p.t0);
        }, timeout);
      }
      return;
    }
    case "invoke":
    case "memory": {
      const unit = units.get(req.unit);
      if (unit === undefined) return fail(id, "request", `unknown unit ${req.unit}`, t0);
      if (unit.dead) return fail(id, "dead", `unit ${req.unit} died earlier; start a new unit`, t0);
      if (unit.pending) return fail(id, "request", `unit ${req.unit} is busy`, t0);
      unit.pending = { op: req.op, id, t0 };
      const deadline = Number(req.deadline_ms);
      if (req.op === "invoke" && deadline > 0) {
        unit.timer = setTimeout(() => {
          const p = unit.pending;
          unit.pending = undefined;
          killUnit(unit);
          if (p) fail(p.id, "deadline", `ran past ${deadline} ms; the worker was terminated`, p.t0);
        }, deadline);
      }
      unit.worker.postMessage(req.op === "invoke"
        ? { op: "invoke", size: req.size >>> 0, seed: req.seed >>> 0 }
        : { op: "memory" });
      return;
    }
    case "stop": {
      const unit = units.get(req.unit);
      if (unit !== undefined) {
        const p = unit.pending;
        unit.pending = undefined;
        killUnit(unit);
        units.delete(req.unit);
        if (p) fail(p.id, "dead", "the unit was stopped", p.t0);
      }
      return send({ id, ok: true, host_ns: ns(performance.now() - t0) });
    }
    case "stats": {
      const m = Deno.memoryUsage();
      return send({
        id,
        ok: true,
        live: liveUnits(),
        heap_used: m.heapUsed,
        heap_total: m.heapTotal,
        rss: m.rss,
        host_ns: ns(performance.now() - t0),
      });
    }
    default:
      return fail(id, "request", `unknown op ${req.op}`, t0);
  }
}

function onLine(line) {
  if (line.trim() === "") return;
  const t0 = performance.now();
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    return send({ id: null, ok: false, error: "request", message: `bad JSON: ${err}` });
  }
  try {
    handle(req, t0);
  } catch (err) {
    fail(req.id, "request", `host error: ${err && err.stack ? err.stack : err}`, t0);
  }
}

send({ id: 0, ok: true, ready: true, pid: Deno.pid, versions: Deno.version });

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    onLine(line);
  }
}
Deno.exit(0);
