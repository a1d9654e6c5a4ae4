;; The plain run of a JSON string, 16 bytes a step (WebAssembly SIMD), for main/batch/request-scan.ts.
;; Its memory holds the read buffers of the running validations (request-scan.ts lends them out); the module
;; only reads it. Assembled with wabt: wat2wasm plain-run.wat (the bytes are in plain-run.ts).
(module
  (memory (export "memory") 65 65)
  ;; The first 16-byte step from $p, before $end, that holds a quote, a backslash or a control character
  ;; (below 0x20); $p itself when fewer than 16 bytes are left. The caller looks at it byte by byte from there.
  (func (export "plain") (param $p i32) (param $end i32) (result i32)
    (local $v v128)
    (block $done
      (loop $step
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (local.set $v (v128.load align=1 (local.get $p)))
        (br_if $done
          (v128.any_true
            (v128.or
              (v128.or
                (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
                (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x5c))))
              (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $step)))
    (local.get $p))
)
