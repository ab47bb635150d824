;; A core-ABI module that imports WASI (a reactor): `run` returns argc + seed, and
;; `_initialize` sets a global the backend must have run.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $ready (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $ready (i32.const 1)))
  (func (export "run") (param $size i32) (param $seed i32) (result i32)
    (if (i32.eqz (global.get $ready)) (then unreachable))
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (i32.add (i32.load (i32.const 0)) (local.get $seed)))
)
