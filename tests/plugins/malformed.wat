;; A broken plug-in: not a valid module (the function returns the wrong type).
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i64.const 1))
)
