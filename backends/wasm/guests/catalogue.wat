;; The unitlab catalogue as a core Wasm module (compiled at prepare time by the `wat` crate).
;;
;; It follows the backend's core module ABI (see the crate docs): every entry point has the type
;; `(func (param $size i32) (param $seed i32) (result i32))`, and the result is the function's
;; u32 value. One module carries all three functions; a unit of `cpu` only ever calls `cpu`.
;; Reference semantics: backends/core/src/catalogue.rs (xorshift32 13/17/5, FNV-1a 32).
;;
;; Memory layout: page 0 (64 KiB) holds data; `alloc` uses the memory from 64 KiB upwards.
(module
  (memory (export "memory") 1)

  ;; NOOP_VALUE (0x2A2A2A2A) lives in a data segment, so that the module has a memory image:
  ;; that is what copy-on-write initialisation maps (strategy `pooling`) or copies
  ;; (`pooling-nocow`), and `noop` reads it back, touching one page like a real function would.
  (data (i32.const 0) "\2a\2a\2a\2a")

  ;; noop(size, seed) -> 0x2A2A2A2A
  (func (export "noop") (param $size i32) (param $seed i32) (result i32)
    (i32.load (i32.const 0)))

  ;; cpu(size, seed) -> FNV-1a over size * 1024 xorshift32 bytes.
  (func (export "cpu") (param $size i32) (param $seed i32) (result i32)
    (local $x i32) (local $h i32) (local $n i64)
    (local.set $x (i32.xor (local.get $seed) (i32.const 0x9E3779B9)))
    (if (i32.eqz (local.get $x)) (then (local.set $x (i32.const 1))))
    (local.set $h (i32.const 0x811C9DC5))
    (local.set $n (i64.mul (i64.extend_i32_u (local.get $size)) (i64.const 1024)))
    (block $done
      (loop $next
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
        (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
        (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
        (local.set $h
          (i32.mul
            (i32.xor (local.get $h) (i32.and (local.get $x) (i32.const 0xff)))
            (i32.const 16777619)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $h))

  ;; alloc(size, seed) -> FNV-1a over one byte read back from every 4 KiB page of a size MiB
  ;; buffer at 64 KiB, after writing (page * 7 + seed) & 0xff at the start of every page.
  ;;
  ;; The first call grows the memory by `size` MiB. Wasm memory cannot shrink, so a later call
  ;; reuses what is already there and grows only by what is missing (as a guest allocator would
  ;; reuse freed memory). When memory.grow fails (unit memory limit, pool slot size, 4 GiB), the
  ;; function returns -1: the backend sees the denied grow and reports MemoryLimit.
  (func (export "alloc") (param $size i32) (param $seed i32) (result i32)
    (local $need i32) (local $pages i32) (local $p i32) (local $h i32)
    (if (i32.gt_u (local.get $size) (i32.const 4095))
      (then
        ;; Cannot fit in 4 GiB: ask for more than wasm32 allows, so the grow fails visibly.
        (local.set $need (i32.const 65536)))
      (else
        (local.set $need
          (i32.sub
            (i32.add (i32.const 1) (i32.mul (local.get $size) (i32.const 16)))
            (memory.size)))))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $need)) (i32.const -1))
          (then (return (i32.const -1))))))
    (local.set $pages (i32.mul (local.get $size) (i32.const 256)))
    (local.set $p (i32.const 0))
    (block $written
      (loop $write
        (br_if $written (i32.ge_u (local.get $p) (local.get $pages)))
        (i32.store8
          (i32.add (i32.const 65536) (i32.shl (local.get $p) (i32.const 12)))
          (i32.add (i32.mul (local.get $p) (i32.const 7)) (local.get $seed)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $write)))
    (local.set $h (i32.const 0x811C9DC5))
    (local.set $p (i32.const 0))
    (block $read
      (loop $next
        (br_if $read (i32.ge_u (local.get $p) (local.get $pages)))
        (local.set $h
          (i32.mul
            (i32.xor
              (local.get $h)
              (i32.load8_u (i32.add (i32.const 65536) (i32.shl (local.get $p) (i32.const 12)))))
            (i32.const 16777619)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $h))
)
