;; A WASI preview 1 command written in WAT: prints "42" and exits 0, or, when its argv[2]
;; (the size) starts with "9", prints "bad" on stderr and exits with status 3.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "42\n")
  (data (i32.const 32) "bad\n")
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    ;; argv pointers at 1024, strings at 2048
    (drop (call $args_get (i32.const 1024) (i32.const 2048)))
    (if (i32.eq (i32.load8_u (i32.load (i32.const 1032))) (i32.const 57))
      (then
        (call $write (i32.const 2) (i32.const 32) (i32.const 4))
        (call $proc_exit (i32.const 3))))
    (call $write (i32.const 1) (i32.const 16) (i32.const 3)))
)
