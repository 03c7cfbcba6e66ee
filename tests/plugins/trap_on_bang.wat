;; Traps (unreachable) on a string value that starts with "!", passes the
;; others unchanged: a plug-in that fails on some records only (ABI v1).
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_alloc") (param $len i32) (result i32)
    (if (i32.gt_u (i32.add (local.get $len) (i32.const 1024))
                  (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow
                  (i32.add (i32.shr_u (local.get $len) (i32.const 16)) (i32.const 1)))
                  (i32.const -1))
        (then (unreachable)))))
    (i32.const 1024))
  (func (export "sluice_transform_value") (param $ptr i32) (param $len i32) (result i64)
    (if (i32.and (i32.gt_u (local.get $len) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 33)))
      (then (unreachable)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len))))
)
