//! Loading the C++ shim (`shim/shim.cc`) with dlopen, and a safe owner of one shim unit.
//!
//! build.rs compiles the shim into `libunitlab_v8_shim.so`, linked against libnode with an
//! rpath, and records its path in `UNITLAB_V8_SHIM_PATH`. At run time `UNITLAB_V8_SHIM` (an
//! environment variable) overrides that path, for binaries moved away from their build tree.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// Shim status codes (shim.h).
pub(crate) const UL_OK: c_int = 0;
pub(crate) const UL_ERR_GUEST: c_int = 1;
pub(crate) const UL_ERR_DEADLINE: c_int = 2;
pub(crate) const UL_ERR_MEMORY: c_int = 3;
const UL_ABI_VERSION: u32 = 4;

#[repr(C)]
pub(crate) struct RawUnit {
    _private: [u8; 0],
}

/// `ul_heap_stats` from shim.h.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HeapStats {
    pub used_heap: u64,
    pub total_heap: u64,
    pub physical: u64,
    pub external: u64,
    pub malloced: u64,
    pub heap_limit: u64,
    pub array_buffers: u64,
}

type Err = *mut *mut c_char;

/// The shim's functions, resolved once per process.
pub(crate) struct Api {
    init: unsafe extern "C" fn(*const c_char, c_int) -> *const c_char,
    anchored: unsafe extern "C" fn() -> c_int,
    version: unsafe extern "C" fn() -> *const c_char,
    string_free: unsafe extern "C" fn(*mut c_char),
    unit_new: unsafe extern "C" fn(u64) -> *mut RawUnit,
    unit_context: unsafe extern "C" fn(*mut RawUnit, Err) -> c_int,
    unit_run_script: unsafe extern "C" fn(
        *mut RawUnit,
        *const c_char,
        usize,
        *const c_char,
        *const u8,
        usize,
        *mut c_int,
        u64,
        Err,
    ) -> c_int,
    unit_code_cache: unsafe extern "C" fn(
        *mut RawUnit,
        *const c_char,
        usize,
        *const c_char,
        *mut *mut u8,
        *mut usize,
        Err,
    ) -> c_int,
    unit_set_handler: unsafe extern "C" fn(*mut RawUnit, *const c_char, Err) -> c_int,
    unit_invoke:
        unsafe extern "C" fn(*mut RawUnit, u32, u32, u64, *mut u32, *mut u64, Err) -> c_int,
    unit_heap_stats: unsafe extern "C" fn(*mut RawUnit, *mut HeapStats) -> c_int,
    unit_free: unsafe extern "C" fn(*mut RawUnit),
    /// Where the shim was loaded from.
    pub path: String,
}

/// Where build.rs put the shim, or why it could not build one.
#[cfg(unitlab_v8)]
fn built_shim() -> Result<String, String> {
    Ok(env!("UNITLAB_V8_SHIM_PATH").to_string())
}

#[cfg(not(unitlab_v8))]
fn built_shim() -> Result<String, String> {
    Err(format!(
        "libnode (V8) headers/library not found at build time (searched: {}); the crate was \
         built without the V8 shim",
        env!("UNITLAB_V8_SEARCHED")
    ))
}

/// The libnode folder the shim was linked against, for reports.
pub(crate) fn libnode_dir() -> Option<&'static str> {
    option_env!("UNITLAB_V8_LIBNODE_DIR")
}

/// The loaded shim, or why it cannot be loaded (same answer for the whole process).
pub(crate) fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Api, String> {
    let path = match std::env::var("UNITLAB_V8_SHIM") {
        Ok(p) if !p.is_empty() => p,
        _ => built_shim()?,
    };
    let cpath = CString::new(path.clone()).map_err(|_| format!("bad shim path {path:?}"))?;
    // SAFETY: dlopen with a valid C string; the handle is never closed (V8 cannot be unloaded).
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a thread-local C string or null.
        let why = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown dlopen error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        return Err(format!("cannot load the V8 shim {path}: {why}"));
    }
    let sym = |name: &str| -> Result<*mut libc::c_void, String> {
        let c = CString::new(name).expect("symbol names have no NUL");
        // SAFETY: valid handle and C string.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        if p.is_null() {
            Err(format!(
                "the V8 shim {path} lacks `{name}`: rebuild the crate"
            ))
        } else {
            Ok(p)
        }
    };
    /// Reinterprets a symbol address as a function pointer of type `F`.
    ///
    /// SAFETY: `F` must be the `extern "C" fn` type of the symbol (see shim.h); the ABI
    /// version check below guards against a stale shim.
    unsafe fn func<F: Copy>(p: *mut libc::c_void) -> F {
        assert_eq!(
            std::mem::size_of::<F>(),
            std::mem::size_of::<*mut libc::c_void>()
        );
        // SAFETY: same size (checked), and the caller vouches for the type.
        unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&p) }
    }
    // SAFETY (every `func` below): each field's type is the symbol's signature in shim.h.
    unsafe {
        let abi: unsafe extern "C" fn() -> u32 = func(sym("ul_abi_version")?);
        let got = abi();
        if got != UL_ABI_VERSION {
            return Err(format!(
                "the V8 shim {path} has ABI version {got}, this crate needs {UL_ABI_VERSION}: \
                 rebuild the crate (or unset UNITLAB_V8_SHIM)"
            ));
        }
        Ok(Api {
            init: func(sym("ul_init")?),
            anchored: func(sym("ul_anchored")?),
            version: func(sym("ul_v8_version")?),
            string_free: func(sym("ul_string_free")?),
            unit_new: func(sym("ul_unit_new")?),
            unit_context: func(sym("ul_unit_context")?),
            unit_run_script: func(sym("ul_unit_run_script")?),
            unit_code_cache: func(sym("ul_unit_code_cache")?),
            unit_set_handler: func(sym("ul_unit_set_handler")?),
            unit_invoke: func(sym("ul_unit_invoke")?),
            unit_heap_stats: func(sym("ul_unit_heap_stats")?),
            unit_free: func(sym("ul_unit_free")?),
            path,
        })
    }
}

/// A failed shim call: the status code and the shim's message.
#[derive(Debug, Clone)]
pub(crate) struct ShimError {
    pub code: c_int,
    pub message: String,
}

impl Api {
    /// Initializes V8 with `flags` once per process, with an anchor isolate if `anchor`;
    /// returns the flags and anchor choice that the first call applied (later calls change
    /// nothing).
    pub fn init(&self, flags: &str, anchor: bool) -> (String, bool) {
        let c = CString::new(flags.replace('\0', " ")).expect("NULs replaced");
        // SAFETY: valid C string; thread-safe (std::call_once); returns a static string.
        let applied = unsafe { CStr::from_ptr((self.init)(c.as_ptr(), c_int::from(anchor))) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: reads a pointer set once inside ul_init's call_once, which has returned.
        let anchored = unsafe { (self.anchored)() } != 0;
        (applied, anchored)
    }

    /// V8's version string.
    pub fn version(&self) -> String {
        // SAFETY: returns a static NUL-terminated string.
        unsafe { CStr::from_ptr((self.version)()) }
            .to_string_lossy()
            .into_owned()
    }

    fn check(&self, code: c_int, err: *mut c_char) -> Result<(), ShimError> {
        if code == UL_OK {
            return Ok(());
        }
        let message = if err.is_null() {
            format!("V8 shim error {code} without a message")
        } else {
            // SAFETY: the shim returns a malloc'ed NUL-terminated string, freed right here.
            let m = unsafe { CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned();
            unsafe { (self.string_free)(err) };
            m
        };
        Err(ShimError { code, message })
    }
}

/// One isolate (plus its context and handler) owned by Rust; dropping it disposes the isolate.
pub(crate) struct ShimUnit {
    api: &'static Api,
    raw: NonNull<RawUnit>,
    /// Call glibc's `malloc_trim(0)` after disposing (see `Config::trim_after_dispose`).
    pub trim_on_drop: bool,
}

// SAFETY: every shim function that touches the isolate takes a v8::Locker, so the unit can be
// used from any thread; `&mut self` methods keep it to one thread at a time.
unsafe impl Send for ShimUnit {}

impl ShimUnit {
    /// Phase `isolate`. `heap_limit` 0 = V8's default.
    pub fn new(api: &'static Api, heap_limit: u64) -> Self {
        // SAFETY: ul_unit_new never returns null (V8 aborts if it cannot make an isolate).
        let raw = unsafe { (api.unit_new)(heap_limit) };
        ShimUnit {
            api,
            raw: NonNull::new(raw).expect("ul_unit_new returned null"),
            trim_on_drop: false,
        }
    }

    /// Phase `context`.
    pub fn context(&mut self) -> Result<(), ShimError> {
        let mut err = std::ptr::null_mut();
        // SAFETY: valid unit, out-pointer to a local.
        let code = unsafe { (self.api.unit_context)(self.raw.as_ptr(), &mut err) };
        self.api.check(code, err)
    }

    /// Compiles and runs a classic script named `name`, from V8's code `cache` for exactly
    /// this source if given. Returns whether V8 rejected the cache (it then compiled the
    /// source).
    pub fn run_script(
        &mut self,
        src: &str,
        name: &str,
        cache: Option<&[u8]>,
        deadline_ns: u64,
    ) -> Result<bool, ShimError> {
        let cname = CString::new(name.replace('\0', "?")).expect("NULs replaced");
        let mut err = std::ptr::null_mut();
        let mut rejected: c_int = 0;
        let (cache_ptr, cache_len) = cache.map_or((std::ptr::null(), 0), |c| (c.as_ptr(), c.len()));
        // SAFETY: src and cache are valid for their lengths during the call (V8 copies what
        // it keeps); out-pointers to locals.
        let code = unsafe {
            (self.api.unit_run_script)(
                self.raw.as_ptr(),
                src.as_ptr().cast(),
                src.len(),
                cname.as_ptr(),
                cache_ptr,
                cache_len,
                &mut rejected,
                deadline_ns,
                &mut err,
            )
        };
        self.api.check(code, err).map(|()| rejected != 0)
    }

    /// V8's code cache for `src` (compiled eagerly, not run), named `name`.
    pub fn code_cache(&mut self, src: &str, name: &str) -> Result<Vec<u8>, ShimError> {
        let cname = CString::new(name.replace('\0', "?")).expect("NULs replaced");
        let mut err = std::ptr::null_mut();
        let (mut out, mut out_len) = (std::ptr::null_mut::<u8>(), 0usize);
        // SAFETY: src valid for its length; out-pointers to locals.
        let code = unsafe {
            (self.api.unit_code_cache)(
                self.raw.as_ptr(),
                src.as_ptr().cast(),
                src.len(),
                cname.as_ptr(),
                &mut out,
                &mut out_len,
                &mut err,
            )
        };
        self.api.check(code, err)?;
        // SAFETY: on success `out` is a malloc'ed buffer of out_len bytes that we own.
        let bytes = unsafe { std::slice::from_raw_parts(out, out_len) }.to_vec();
        // SAFETY: frees the shim's malloc'ed buffer exactly once.
        unsafe { (self.api.string_free)(out.cast()) };
        Ok(bytes)
    }

    /// Keeps the global function `name` as the handler.
    pub fn set_handler(&mut self, name: &str) -> Result<(), ShimError> {
        let cname = CString::new(name).map_err(|_| ShimError {
            code: UL_ERR_GUEST,
            message: format!("bad handler name {name:?}"),
        })?;
        let mut err = std::ptr::null_mut();
        // SAFETY: valid unit and C string.
        let code =
            unsafe { (self.api.unit_set_handler)(self.raw.as_ptr(), cname.as_ptr(), &mut err) };
        self.api.check(code, err)
    }

    /// Calls handler(size, seed): (value, guest nanoseconds).
    pub fn invoke(
        &mut self,
        size: u32,
        seed: u32,
        deadline_ns: u64,
    ) -> Result<(u32, u64), ShimError> {
        let (mut out, mut ns, mut err) = (0u32, 0u64, std::ptr::null_mut());
        // SAFETY: valid unit, out-pointers to locals.
        let code = unsafe {
            (self.api.unit_invoke)(
                self.raw.as_ptr(),
                size,
                seed,
                deadline_ns,
                &mut out,
                &mut ns,
                &mut err,
            )
        };
        self.api.check(code, err).map(|()| (out, ns))
    }

    /// Heap statistics; `None` once the isolate was disposed (after a memory-limit error).
    pub fn heap_stats(&mut self) -> Option<HeapStats> {
        let mut s = HeapStats::default();
        // SAFETY: valid unit, out-pointer to a local.
        let code = unsafe { (self.api.unit_heap_stats)(self.raw.as_ptr(), &mut s) };
        (code == UL_OK).then_some(s)
    }
}

impl Drop for ShimUnit {
    fn drop(&mut self) {
        // SAFETY: the unit is owned by self and freed exactly once.
        unsafe { (self.api.unit_free)(self.raw.as_ptr()) }
        if self.trim_on_drop {
            release_freed_memory();
        }
    }
}

/// Returns the free memory glibc's malloc keeps (where disposed isolates' memory stays) to
/// the OS with `malloc_trim(0)`.
pub fn release_freed_memory() {
    // SAFETY: malloc_trim has no preconditions; it is a no-op where nothing can be trimmed.
    unsafe {
        libc::malloc_trim(0);
    }
}
