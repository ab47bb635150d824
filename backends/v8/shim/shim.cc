// unitlab V8 shim: see shim.h for the C ABI and ownership rules.
//
// Every V8 call is commented with what it does and why it is needed here. The V8 API is the
// one of Debian's libnode108 (V8 10.2.154.26-node.37, pointer compression off).

#include "shim.h"

#include <libplatform/libplatform.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

std::once_flag g_init_once;
// Leaked on purpose: isolates may be created until the process exits, and V8 has no safe
// moment to shut the platform down under a library caller.
v8::Platform *g_platform = nullptr;
// The anchor isolate (see ul_init in shim.h), leaked on purpose like the platform.
v8::Isolate *g_anchor = nullptr;

char *dup_string(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (p != nullptr) {
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
  }
  return p;
}

int fail(char **err, int code, const std::string &msg) {
  if (err != nullptr) *err = dup_string(msg);
  return code;
}

// ---------------------------------------------------------------------------------------
// Watchdog: one process-wide thread that stops isolates whose invocation ran past its
// deadline. Arming and disarming take a mutex; the watchdog calls TerminateExecution while
// holding it, so it never touches an isolate after the invoking thread disarmed (and then
// possibly disposed) it.
class Watchdog {
 public:
  uint64_t arm(v8::Isolate *isolate, Clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    uint64_t id = next_id_++;
    entries_[id] = Entry{isolate, deadline, false};
    cv_.notify_one();
    return id;
  }

  // True when the watchdog already fired for this (still armed) entry.
  bool fired(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    return it != entries_.end() && it->second.fired;
  }

  // Returns true when the watchdog fired for this entry.
  bool disarm(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    bool fired = it->second.fired;
    entries_.erase(it);
    return fired;
  }

 private:
  struct Entry {
    v8::Isolate *isolate;
    Clock::time_point deadline;
    bool fired;
  };

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Entry *next = nullptr;
      for (auto &kv : entries_) {
        if (!kv.second.fired && (next == nullptr || kv.second.deadline < next->deadline)) {
          next = &kv.second;
        }
      }
      if (next == nullptr) {
        cv_.wait(lock);
        continue;
      }
      if (Clock::now() >= next->deadline) {
        // V8: Isolate::TerminateExecution may be called from any thread; it raises an
        // uncatchable termination exception in the JS running on the isolate's thread.
        next->isolate->TerminateExecution();
        next->fired = true;
        continue;
      }
      cv_.wait_until(lock, next->deadline);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 1;
  bool started_ = false;
};

Watchdog &watchdog() {
  static Watchdog *w = new Watchdog();  // leaked: its thread lives as long as the process
  return *w;
}

// ---------------------------------------------------------------------------------------
// ArrayBuffer allocator that counts live backing-store bytes and refuses to go over a budget,
// so that `new Uint8Array(huge)` gives a MemoryLimit error instead of unbounded malloc. V8
// turns a nullptr into a RangeError ("Array buffer allocation failed") in the guest.
class CountingAllocator : public v8::ArrayBuffer::Allocator {
 public:
  explicit CountingAllocator(uint64_t limit) : limit_(limit) {}

  void *Allocate(size_t length) override {
    if (!reserve(length)) return nullptr;
    void *p = std::calloc(length == 0 ? 1 : length, 1);
    if (p == nullptr) release(length);
    return p;
  }

  void *AllocateUninitialized(size_t length) override {
    if (!reserve(length)) return nullptr;
    void *p = std::malloc(length == 0 ? 1 : length);
    if (p == nullptr) release(length);
    return p;
  }

  void Free(void *data, size_t length) override {
    std::free(data);
    release(length);
  }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  bool refused() const { return refused_.load(std::memory_order_relaxed); }
  void clear_refused() { refused_.store(false, std::memory_order_relaxed); }

 private:
  bool reserve(size_t n) {
    uint64_t now = used_.fetch_add(n, std::memory_order_relaxed) + n;
    if (limit_ != 0 && now > limit_) {
      used_.fetch_sub(n, std::memory_order_relaxed);
      refused_.store(true, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  void release(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<bool> refused_{false};
};

// The near-heap-limit callback raises the limit so that a terminated guest can unwind instead
// of V8 aborting the process. V8 checks the limit when it collects garbage, so by then the heap
// may already be far past it (one `new Array(2e7).fill(0)` adds 160 MB at once); the new limit
// is the heap's current size (or the old limit, if larger) plus a step that doubles on every
// call: step, 2*step, 4*step, ... with step = max(initial limit, 32 MiB). After
// kMaxHeapLimitRaises calls the callback gives up and V8 aborts with its own OOM message. The
// slack is only for the allocation in progress; the guest stops at its next interrupt check.
constexpr int kMaxHeapLimitRaises = 8;

void on_oom(const char *location, bool is_heap_oom) {
  std::fprintf(stderr,
               "unitlab v8 shim: V8 ran out of memory (%s, %s) beyond the slack the "
               "near-heap-limit callback gives; V8 cannot continue and aborts the process. "
               "Raise heap_limit_mib or make the guest allocate less.\n",
               location != nullptr ? location : "?", is_heap_oom ? "JS heap" : "process");
}

}  // namespace

struct ul_unit {
  v8::Isolate *isolate = nullptr;
  std::shared_ptr<CountingAllocator> allocator;
  v8::Global<v8::Context> context;
  v8::Global<v8::Function> handler;
  uint64_t heap_limit = 0;            // requested (0 = V8 default)
  uint64_t effective_heap_limit = 0;  // what V8 applies (it has a minimum of a few MiB)
  int heap_limit_raises = 0;  // > 0: the heap limit was reached
  bool dispose_pending = false;
  std::string dead_reason;  // why the isolate was disposed early
};

namespace {

// V8 NearHeapLimitCallback: called on the isolate's thread when the heap nears its limit
// after GCs did not help. We stop the guest (TerminateExecution) and return a higher limit
// so that V8 can unwind instead of calling FatalProcessOutOfMemory. The unit is disposed
// right after the call returns.
size_t near_heap_limit(void *data, size_t current_heap_limit, size_t initial_heap_limit) {
  auto *u = static_cast<ul_unit *>(data);
  u->heap_limit_raises++;
  // V8: request termination of the running JS (checked at the next interrupt point).
  u->isolate->TerminateExecution();
  if (u->heap_limit_raises > kMaxHeapLimitRaises) return current_heap_limit;
  // A large allocation can push the heap far past the limit before a GC notices (V8 checks the
  // limit at GC time), so raise from the heap's real size, not from the old limit.
  v8::HeapStatistics hs;
  // V8: Isolate::GetHeapStatistics only reads the spaces' counters; safe inside the callback.
  u->isolate->GetHeapStatistics(&hs);
  size_t base = std::max<size_t>(current_heap_limit, hs.total_heap_size());
  size_t step = std::max<size_t>(initial_heap_limit, size_t{32} << 20);
  return base + (step << (u->heap_limit_raises - 1));
}

std::string utf8(v8::Isolate *isolate, v8::Local<v8::Value> v) {
  // V8: String::Utf8Value converts any value with ToString (may run user toString).
  v8::String::Utf8Value s(isolate, v);
  return *s != nullptr ? std::string(*s, s.length()) : std::string("<unprintable>");
}

// "<script>:<line>:<col>: <exception>\n<source line>\n<stack frames>"
std::string describe(v8::Isolate *isolate, v8::Local<v8::Context> ctx, v8::TryCatch &tc) {
  std::string exc = utf8(isolate, tc.Exception());
  std::string out;
  // V8: TryCatch::Message gives the script position of the exception, if known.
  v8::Local<v8::Message> msg = tc.Message();
  if (!msg.IsEmpty()) {
    std::string name = utf8(isolate, msg->GetScriptResourceName());
    int line = msg->GetLineNumber(ctx).FromMaybe(0);
    int col = msg->GetStartColumn(ctx).FromMaybe(-1) + 1;
    out = name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + exc;
    v8::Local<v8::String> src;
    if (msg->GetSourceLine(ctx).ToLocal(&src)) {
      std::string s = utf8(isolate, src);
      if (s.size() > 200) s = s.substr(0, 200) + "...";
      out += "\n  | " + s;
    }
  } else {
    out = exc;
  }
  // V8: TryCatch::StackTrace is the exception's `stack` property (Error objects only).
  v8::Local<v8::Value> stack;
  if (tc.StackTrace(ctx).ToLocal(&stack) && stack->IsString()) {
    std::string st = utf8(isolate, stack);
    if (st.compare(0, exc.size(), exc) == 0) st = st.substr(exc.size());
    if (!st.empty() && st != "\n") out += st;
  }
  return out;
}

// Disposes the isolate: Globals are reset under the lock, then the isolate is disposed with
// no lock held and no scope entered, as V8 requires.
void dispose_isolate(ul_unit *u) {
  if (u->isolate == nullptr) return;
  v8::Isolate *isolate = u->isolate;
  {
    // V8: Locker makes this thread the isolate's owner; Isolate::Scope enters it.
    v8::Locker locker(isolate);
    v8::Isolate::Scope isolate_scope(isolate);
    u->handler.Reset();
    u->context.Reset();
  }
  // V8: Isolate::Dispose frees the heap. Much of the freed memory stays in glibc malloc's
  // free lists (RSS does not drop) until malloc_trim; see release_freed_memory in Rust.
  isolate->Dispose();
  // V8 libplatform: drop the platform's per-isolate task queue, or it would outlive the
  // isolate (and be found again by a later isolate at the same address).
  v8::platform::NotifyIsolateShutdown(g_platform, isolate);
  u->isolate = nullptr;
}

std::string memory_message(ul_unit *u, bool heap) {
  if (heap) {
    return "V8 heap reached its limit (requested " + std::to_string(u->heap_limit) +
           " bytes, applied by V8 " + std::to_string(u->effective_heap_limit) +
           " bytes; near-heap-limit callback fired, execution terminated, isolate disposed)";
  }
  return "ArrayBuffer allocation refused: live backing stores would exceed " +
         std::to_string(u->heap_limit) + " bytes (isolate disposed)";
}

// Turns the outcome of a JS call (script run or handler call) into a status. Called inside
// the isolate's scopes; sets u->dispose_pending when the unit must die.
int outcome(ul_unit *u, v8::Local<v8::Context> ctx, v8::TryCatch &tc, bool ok, bool fired,
            uint64_t deadline_ns, char **err) {
  v8::Isolate *isolate = u->isolate;
  if (u->heap_limit_raises > 0) {
    u->dispose_pending = true;
    u->dead_reason = memory_message(u, true);
    return fail(err, UL_ERR_MEMORY, u->dead_reason);
  }
  if (fired) {
    // V8: clear the termination request so that the isolate can run JS again.
    isolate->CancelTerminateExecution();
    return fail(err, UL_ERR_DEADLINE,
                "stopped by the watchdog after " + std::to_string(deadline_ns / 1000000) +
                    " ms (Isolate::TerminateExecution)");
  }
  if (!ok || tc.HasCaught()) {
    if (u->allocator->refused()) {
      u->dispose_pending = true;
      u->dead_reason = memory_message(u, false);
      return fail(err, UL_ERR_MEMORY, u->dead_reason);
    }
    // V8: HasTerminated is true for termination exceptions (not catchable by JS).
    if (tc.HasTerminated()) {
      isolate->CancelTerminateExecution();
      return fail(err, UL_ERR_GUEST, "execution was terminated");
    }
    return fail(err, UL_ERR_GUEST, describe(isolate, ctx, tc));
  }
  return UL_OK;
}

// Disarms the watchdog after the outcome of a watched call was computed. The outcome is computed
// while the watchdog still runs because turning an exception or a result into text can run
// guest code (toString, a `stack` getter, Error.prepareStackTrace); if the watchdog fired only
// then, the result is a deadline error.
int settle(ul_unit *u, uint64_t watch, bool fired_during_call, int rc, uint64_t deadline_ns,
           char **err) {
  if (watch == 0) return rc;
  if (watchdog().disarm(watch) && !fired_during_call) {
    // V8: clear the termination request so that the isolate can run JS again.
    u->isolate->CancelTerminateExecution();
    if (err != nullptr && *err != nullptr) {
      std::free(*err);
      *err = nullptr;
    }
    rc = fail(err, UL_ERR_DEADLINE,
              "stopped by the watchdog after " + std::to_string(deadline_ns / 1000000) +
                  " ms while formatting the guest's exception or result");
  }
  return rc;
}

void finish(ul_unit *u) {
  if (u->dispose_pending) {
    u->dispose_pending = false;
    dispose_isolate(u);
  }
}

int dead(ul_unit *u, char **err) {
  return fail(err, UL_ERR_STATE,
              "this unit's isolate was disposed (" +
                  (u->dead_reason.empty() ? std::string("no isolate") : u->dead_reason) +
                  "); start a new unit");
}

// The scopes every call into a unit's context needs, in the order V8 requires: the Locker
// (one thread in the isolate at a time), the isolate entered, a HandleScope that owns the
// Locals made during the call, and the unit's context entered (for compiling and running).
struct InContext {
  v8::Locker locker;
  v8::Isolate::Scope isolate_scope;
  v8::HandleScope handle_scope;
  v8::Local<v8::Context> ctx;
  v8::Context::Scope context_scope;
  explicit InContext(ul_unit *u)
      : locker(u->isolate),
        isolate_scope(u->isolate),
        handle_scope(u->isolate),
        ctx(u->context.Get(u->isolate)),
        context_scope(ctx) {}
};

// UL_OK if the unit has a live isolate with a context, else the error.
int has_context(ul_unit *u, char **err) {
  if (u == nullptr || u->isolate == nullptr) return dead(u, err);
  if (u->context.IsEmpty()) return fail(err, UL_ERR_STATE, "no context: call ul_unit_context");
  return UL_OK;
}

// A script's source and name as V8 strings (String::NewFromUtf8 copies the UTF-8 into the
// heap); an error if V8 cannot make them.
int script_strings(v8::Isolate *isolate, const char *src, size_t len, const char *name,
                   v8::Local<v8::String> *source, v8::Local<v8::String> *origin_name,
                   char **err) {
  if (!v8::String::NewFromUtf8(isolate, src, v8::NewStringType::kNormal, static_cast<int>(len))
           .ToLocal(source) ||
      !v8::String::NewFromUtf8(isolate, name).ToLocal(origin_name)) {
    return fail(err, UL_ERR_GUEST, std::string("cannot make a V8 string of script ") + name);
  }
  return UL_OK;
}

void pump(v8::Isolate *isolate) {
  // V8 libplatform: run pending foreground tasks (GC finalization etc.) without blocking.
  // Bounded so that a task that reposts itself cannot keep us here.
  for (int i = 0; i < 8; i++) {
    if (!v8::platform::PumpMessageLoop(g_platform, isolate,
                                       v8::platform::MessageLoopBehavior::kDoNotWait)) {
      break;
    }
  }
}

}  // namespace

extern "C" {

uint32_t ul_abi_version(void) { return UL_ABI_VERSION; }

const char *ul_init(const char *flags, int anchor) {
  static std::string applied;
  std::call_once(g_init_once, [flags, anchor] {
    if (flags != nullptr && flags[0] != '\0') {
      applied = flags;
      // V8: V8::SetFlagsFromString parses V8 command-line flags; they must be set before
      // V8::Initialize and apply to the whole process.
      v8::V8::SetFlagsFromString(flags);
    }
    // V8 libplatform: the default platform (worker threads for GC and compilation).
    g_platform = v8::platform::NewDefaultPlatform().release();
    // V8: register the platform, then initialize V8 once per process. V8::Initialize also
    // checks that these headers' build configuration (pointer compression etc.) matches
    // libnode's, and aborts with a message if not.
    v8::V8::InitializePlatform(g_platform);
    v8::V8::Initialize();
    if (anchor != 0) {
      v8::Isolate::CreateParams params;
      // V8: V8's own malloc-backed ArrayBuffer allocator; the anchor never runs code.
      params.array_buffer_allocator_shared =
          std::shared_ptr<v8::ArrayBuffer::Allocator>(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
      // V8: Isolate::New; the first isolate also sets up the process's shared read-only
      // heap, which later isolates attach to while any isolate is alive.
      g_anchor = v8::Isolate::New(params);
    }
  });
  return applied.c_str();
}

int ul_anchored(void) { return g_anchor != nullptr ? 1 : 0; }

const char *ul_v8_version(void) {
  // V8: static version string of the linked V8.
  return v8::V8::GetVersion();
}

void ul_string_free(char *s) { std::free(s); }

ul_unit *ul_unit_new(uint64_t heap_limit_bytes) {
  ul_init(nullptr, 0);  // normally done by the caller already, with its flags
  auto *u = new ul_unit();
  u->heap_limit = heap_limit_bytes;
  u->allocator = std::make_shared<CountingAllocator>(heap_limit_bytes);
  v8::Isolate::CreateParams params;
  // V8: the isolate shares ownership of its ArrayBuffer allocator, so backing stores freed
  // after the isolate is gone still find it.
  params.array_buffer_allocator_shared = u->allocator;
  if (heap_limit_bytes != 0) {
    // V8: split a total heap budget into young and old generation sizes.
    params.constraints.ConfigureDefaultsFromHeapSize(0, static_cast<size_t>(heap_limit_bytes));
  }
  // V8: Isolate::New creates and initializes an isolate (its heap and builtins snapshot).
  u->isolate = v8::Isolate::New(params);
  {
    v8::Locker locker(u->isolate);
    // V8: called near the heap limit instead of crashing; see near_heap_limit.
    u->isolate->AddNearHeapLimitCallback(near_heap_limit, u);
    // V8: last words before V8 aborts on an OOM that the callback could not prevent.
    u->isolate->SetOOMErrorHandler(on_oom);
    v8::Isolate::Scope isolate_scope(u->isolate);
    v8::HeapStatistics hs;
    // V8: the heap limit V8 actually applies (it raises tiny limits to its minimum).
    u->isolate->GetHeapStatistics(&hs);
    u->effective_heap_limit = hs.heap_size_limit();
  }
  return u;
}

int ul_unit_context(ul_unit *u, char **err) {
  if (u == nullptr || u->isolate == nullptr) return dead(u, err);
  v8::Isolate *isolate = u->isolate;
  {
    v8::Locker locker(isolate);
    v8::Isolate::Scope isolate_scope(isolate);
    // V8: HandleScope owns the Local handles created below.
    v8::HandleScope handle_scope(isolate);
    // V8: Context::New creates a fresh global object with the ECMAScript builtins only.
    v8::Local<v8::Context> ctx = v8::Context::New(isolate);
    if (ctx.IsEmpty()) {
      if (u->heap_limit_raises > 0) {
        u->dispose_pending = true;
        u->dead_reason = memory_message(u, true);
      }
    } else {
      // V8: a Global keeps the context alive across calls.
      u->context.Reset(isolate, ctx);
    }
  }
  if (u->context.IsEmpty()) {
    int code = u->dispose_pending ? UL_ERR_MEMORY : UL_ERR_STATE;
    std::string msg = u->dispose_pending ? u->dead_reason : "V8 could not create a context";
    finish(u);
    return fail(err, code, msg);
  }
  return UL_OK;
}

int ul_unit_run_script(ul_unit *u, const char *src, size_t len, const char *name,
                       const uint8_t *cache, size_t cache_len, int *cache_rejected,
                       uint64_t deadline_ns, char **err) {
  if (cache_rejected != nullptr) *cache_rejected = 0;
  if (int rc = has_context(u, err); rc != UL_OK) return rc;
  v8::Isolate *isolate = u->isolate;
  int rc;
  {
    InContext in(u);
    v8::Local<v8::Context> ctx = in.ctx;
    // V8: TryCatch catches exceptions (syntax errors included) thrown below.
    v8::TryCatch tc(isolate);
    v8::Local<v8::String> source;
    v8::Local<v8::String> origin_name;
    rc = script_strings(isolate, src, len, name, &source, &origin_name, err);
    if (rc == UL_OK) {
      // V8: ScriptOrigin names the script in messages and stack traces.
      v8::ScriptOrigin origin(isolate, origin_name);
      uint64_t watch = 0;
      if (deadline_ns != 0) {
        watch = watchdog().arm(isolate, Clock::now() + std::chrono::nanoseconds(deadline_ns));
      }
      u->allocator->clear_refused();
      v8::Local<v8::Script> script;
      // V8: Script::Compile parses and compiles a classic script (syntax errors are thrown
      // here); Script::Run runs its top level in the current context.
      bool ok;
      if (cache != nullptr && cache_len > 0) {
        // V8: CachedData wraps the cache bytes without copying (BufferNotOwned); Source
        // takes ownership of the CachedData object.
        v8::ScriptCompiler::Source with_cache(
            source, origin,
            new v8::ScriptCompiler::CachedData(cache, static_cast<int>(cache_len),
                                               v8::ScriptCompiler::CachedData::BufferNotOwned));
        // V8: ScriptCompiler::Compile with kConsumeCodeCache deserializes the compiled
        // bytecode instead of parsing; V8 falls back to compiling the source if the cache
        // does not match (it then marks the CachedData rejected).
        ok = v8::ScriptCompiler::Compile(ctx, &with_cache,
                                         v8::ScriptCompiler::kConsumeCodeCache)
                 .ToLocal(&script);
        if (cache_rejected != nullptr && with_cache.GetCachedData()->rejected) {
          *cache_rejected = 1;
        }
      } else {
        ok = v8::Script::Compile(ctx, source, &origin).ToLocal(&script);
      }
      ok = ok && !script->Run(ctx).IsEmpty();
      bool fired = watch != 0 && watchdog().fired(watch);
      rc = outcome(u, ctx, tc, ok, fired, deadline_ns, err);
      rc = settle(u, watch, fired, rc, deadline_ns, err);
    }
  }
  finish(u);
  return rc;
}

int ul_unit_code_cache(ul_unit *u, const char *src, size_t len, const char *name,
                       uint8_t **out, size_t *out_len, char **err) {
  *out = nullptr;
  *out_len = 0;
  if (int rc = has_context(u, err); rc != UL_OK) return rc;
  v8::Isolate *isolate = u->isolate;
  InContext in(u);
  v8::Local<v8::Context> ctx = in.ctx;
  v8::TryCatch tc(isolate);
  v8::Local<v8::String> source;
  v8::Local<v8::String> origin_name;
  if (int rc = script_strings(isolate, src, len, name, &source, &origin_name, err); rc != UL_OK) {
    return rc;
  }
  v8::ScriptOrigin origin(isolate, origin_name);
  v8::ScriptCompiler::Source source_in(source, origin);
  v8::Local<v8::UnboundScript> unbound;
  // V8: CompileUnboundScript with kEagerCompile compiles every function now (not lazily at
  // first call), so that the cache holds their bytecode too.
  if (!v8::ScriptCompiler::CompileUnboundScript(isolate, &source_in,
                                                v8::ScriptCompiler::kEagerCompile)
           .ToLocal(&unbound)) {
    return fail(err, UL_ERR_GUEST,
                std::string("compiling ") + name + " for the code cache: " +
                    (tc.HasCaught() ? describe(isolate, ctx, tc) : std::string("?")));
  }
  // V8: CreateCodeCache serializes the script's compiled bytecode; V8 owns the returned
  // CachedData's buffer, which we copy into a malloc'ed one for the caller.
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(
      v8::ScriptCompiler::CreateCodeCache(unbound));
  if (!data || data->length <= 0) {
    return fail(err, UL_ERR_STATE, std::string("V8 made no code cache for ") + name);
  }
  auto *buf = static_cast<uint8_t *>(std::malloc(static_cast<size_t>(data->length)));
  if (buf == nullptr) return fail(err, UL_ERR_STATE, "out of memory copying the code cache");
  std::memcpy(buf, data->data, static_cast<size_t>(data->length));
  *out = buf;
  *out_len = static_cast<size_t>(data->length);
  return UL_OK;
}

int ul_unit_set_handler(ul_unit *u, const char *name, char **err) {
  if (int rc = has_context(u, err); rc != UL_OK) return rc;
  v8::Isolate *isolate = u->isolate;
  InContext in(u);
  v8::Local<v8::Context> ctx = in.ctx;
  v8::TryCatch tc(isolate);
  v8::Local<v8::String> key;
  v8::Local<v8::Value> value;
  if (!v8::String::NewFromUtf8(isolate, name).ToLocal(&key) ||
      // V8: Object::Get reads a property of the global object (may run a getter).
      !ctx->Global()->Get(ctx, key).ToLocal(&value)) {
    return fail(err, UL_ERR_GUEST,
                std::string("reading global `") + name + "` threw: " +
                    (tc.HasCaught() ? describe(isolate, ctx, tc) : std::string("?")));
  }
  if (!value->IsFunction()) {
    // V8: Value::TypeOf is the JS `typeof` operator.
    return fail(err, UL_ERR_GUEST,
                std::string("the script defines no global function `") + name +
                    "` (typeof " + name + " is " + utf8(isolate, value->TypeOf(isolate)) +
                    "); define `function " + name + "(size, seed) { ... }` at top level");
  }
  u->handler.Reset(isolate, value.As<v8::Function>());
  return UL_OK;
}

int ul_unit_invoke(ul_unit *u, uint32_t size, uint32_t seed, uint64_t deadline_ns,
                   uint32_t *out, uint64_t *guest_ns, char **err) {
  if (u == nullptr || u->isolate == nullptr) return dead(u, err);
  if (u->handler.IsEmpty()) return fail(err, UL_ERR_STATE, "no handler: call ul_unit_set_handler");
  v8::Isolate *isolate = u->isolate;
  int rc;
  {
    InContext in(u);
    v8::Local<v8::Context> ctx = in.ctx;
    v8::TryCatch tc(isolate);
    v8::Local<v8::Function> fn = u->handler.Get(isolate);
    // V8: Integer::NewFromUnsigned makes JS numbers 0..2^32-1.
    v8::Local<v8::Value> args[2] = {v8::Integer::NewFromUnsigned(isolate, size),
                                    v8::Integer::NewFromUnsigned(isolate, seed)};
    u->allocator->clear_refused();
    uint64_t watch = 0;
    if (deadline_ns != 0) {
      watch = watchdog().arm(isolate, Clock::now() + std::chrono::nanoseconds(deadline_ns));
    }
    auto t0 = Clock::now();
    v8::Local<v8::Value> result;
    // V8: Function::Call runs handler(size, seed) with `this` = undefined.
    bool ok = fn->Call(ctx, v8::Undefined(isolate), 2, args).ToLocal(&result);
    auto t1 = Clock::now();
    bool fired = watch != 0 && watchdog().fired(watch);
    if (guest_ns != nullptr) {
      *guest_ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    rc = outcome(u, ctx, tc, ok, fired, deadline_ns, err);
    if (rc == UL_OK) {
      if (!result->IsNumber()) {
        rc = fail(err, UL_ERR_GUEST,
                  "the handler returned " + utf8(isolate, result->TypeOf(isolate)) + " `" +
                      utf8(isolate, result) + "`, expected a number (it is sent as `v >>> 0`)");
      } else {
        // V8: Value::Uint32Value is ToUint32, i.e. JS `v >>> 0`.
        *out = result->Uint32Value(ctx).FromMaybe(0);
      }
    }
    rc = settle(u, watch, fired, rc, deadline_ns, err);
    if (!u->dispose_pending) pump(isolate);
  }
  finish(u);
  return rc;
}

int ul_unit_heap_stats(ul_unit *u, ul_heap_stats *out) {
  std::memset(out, 0, sizeof(*out));
  if (u == nullptr || u->isolate == nullptr) return UL_ERR_STATE;
  v8::Isolate *isolate = u->isolate;
  v8::Locker locker(isolate);
  v8::Isolate::Scope isolate_scope(isolate);
  v8::HeapStatistics hs;
  // V8: Isolate::GetHeapStatistics fills the heap sizes of this isolate (cheap, no GC).
  isolate->GetHeapStatistics(&hs);
  out->used_heap = hs.used_heap_size();
  out->total_heap = hs.total_heap_size();
  out->physical = hs.total_physical_size();
  out->external = hs.external_memory();
  out->malloced = hs.malloced_memory();
  out->heap_limit = hs.heap_size_limit();
  out->array_buffers = u->allocator->used();
  return UL_OK;
}

void ul_unit_free(ul_unit *u) {
  if (u == nullptr) return;
  dispose_isolate(u);
  delete u;
}

}  // extern "C"
