;; A core-ABI guest that fails on request, for the failure tests: `run(size, seed)` does
;;   size 0: return seed + 1
;;   size 1: trap (unreachable)
;;   size 2: loop forever
;;   size 3: grow memory by 64 MiB, trap if that fails
;;   size 4: grow memory by 64 MiB, return -1 if that fails
;;   size 5: grow memory by 64 MiB, return 7 even if that fails (copes)
(module
  (memory (export "memory") 1)
  (func $grow (result i32) (memory.grow (i32.const 1024)))
  (func (export "run") (param $size i32) (param $seed i32) (result i32)
    (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b0 (local.get $size)))
      (return (i32.add (local.get $seed) (i32.const 1))))
      unreachable)
      (loop $forever (br $forever))
      unreachable)
      (if (i32.eq (call $grow) (i32.const -1)) (then unreachable))
      (return (i32.const 0)))
      (if (i32.eq (call $grow) (i32.const -1)) (then (return (i32.const -1))))
      (return (i32.const 0)))
    (drop (call $grow))
    (i32.const 7))
)
