//! A WebAssembly module run as a transform, under ABI version 1.
//!
//! Each `WasmTransform` (one per transform per task) owns its own wasmi
//! `Store` and `Instance`: tasks share only the compiled, immutable `Module`.
//! Every call into the module runs with a fuel budget (`fuel`, reset for
//! each record) and a memory cap (`memory.max.bytes`), so a loop ends in an
//! out-of-fuel trap and a runaway allocation in a failed `memory.grow`. A
//! trap, an out-of-fuel error or an ABI violation becomes a `RecordError`
//! naming the plug-in and the topic; the instance it happened in is dropped
//! (its memory may be half-written) and the next record gets a fresh one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use wasmi::{Engine, Instance, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder};
use wasmi::{TrapCode, TypedFunc};

use super::record_json::{record_from_json, record_to_json};
use crate::config::{ConfigDef, ConfigError, ConfigType, Importance, Validator};
use crate::data::{RecordData, Value};
use crate::plugin::{Props, RecordError, Transform};

/// The ABI version this Sluice speaks (docs/plugins.md).
pub const ABI_VERSION: i32 = 1;
/// Default fuel per record: about ten million wasm instructions.
pub const DEFAULT_FUEL: u64 = 10_000_000;
/// Default cap on a plug-in instance's linear memory.
pub const DEFAULT_MEMORY_MAX: u64 = 64 * 1024 * 1024;
/// Plug-in files larger than this are refused at load.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

const FUEL: &str = "fuel";
const FUEL_MAX_EXHAUSTED: &str = "fuel.exhausted.max.consecutive";
/// Default of `fuel.exhausted.max.consecutive`.
pub const DEFAULT_FUEL_MAX_EXHAUSTED: u64 = 3;
const MEMORY_MAX: &str = "memory.max.bytes";

/// The engine every plug-in module is compiled for: fuel metering on.
pub fn engine() -> Engine {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    Engine::new(&config)
}

/// One plug-in file, compiled once at load and shared by every task.
pub struct WasmPlugin {
    /// The class name connectors use (`wasm:<stem>` or the manifest's).
    pub class: String,
    pub file: PathBuf,
    /// The compiled module, or why the file is unusable.
    pub module: Result<Module, String>,
}

impl WasmPlugin {
    /// Reads and compiles `file` (`.wasm` binary or `.wat` text).
    pub fn load(engine: &Engine, class: String, file: &Path) -> WasmPlugin {
        let module = read_module(file).and_then(|bytes| compile(engine, &bytes));
        WasmPlugin {
            class,
            file: file.to_path_buf(),
            module,
        }
    }

    /// Compiles a module held in memory (tests, embedders).
    pub fn from_bytes(engine: &Engine, class: &str, bytes: &[u8]) -> WasmPlugin {
        WasmPlugin {
            class: class.to_string(),
            file: PathBuf::from(format!("<{class}>")),
            module: compile(engine, bytes),
        }
    }

    fn who(&self) -> String {
        format!("plug-in {} ({})", self.class, self.file.display())
    }
}

fn read_module(file: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{} is {len} bytes; plug-in modules are limited to {MAX_FILE_BYTES} bytes",
            file.display()
        ));
    }
    std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Module, String> {
    let module = Module::new(engine, bytes)
        .map_err(|e| format!("is not a valid WebAssembly module (binary or text): {e}"))?;
    if let Some(i) = module.imports().next() {
        return Err(format!(
            "imports {}.{}, but Sluice provides no imports to plug-ins: build the module without a libc or WASI (e.g. clang --target=wasm32 -nostdlib)",
            i.module(),
            i.name()
        ));
    }
    Ok(module)
}

/// Why a call into the module failed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("ran out of fuel (looped?) after {0} units")]
    OutOfFuel(u64),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("broke ABI version 1: {0}")]
    Abi(String),
    #[error("{0}")]
    Reported(String),
}

impl CallError {
    fn from_wasm(e: wasmi::Error, fuel: u64) -> CallError {
        match e.as_trap_code() {
            Some(TrapCode::OutOfFuel) => CallError::OutOfFuel(fuel),
            _ => CallError::Trap(e.to_string()),
        }
    }

    fn remedy(&self) -> &'static str {
        match self {
            CallError::OutOfFuel(_) => "fix the plug-in's loop, or raise the transform's fuel setting (transforms.<name>.fuel) if the record really needs more",
            CallError::Trap(_) => "a trap is a bug or a deliberate abort in the module: fix the plug-in, or set errors.tolerance=all to skip such records",
            CallError::Abi(_) => "see docs/plugins.md for the ABI",
            CallError::Reported(_) => "set errors.tolerance=all to skip such records",
        }
    }
}

/// How a transform instance runs its module, from its config.
#[derive(Clone)]
struct Settings {
    fuel: u64,
    /// After this many records in a row ran out of fuel the task fails
    /// (0: never).
    max_exhausted: u64,
    memory_max: u64,
    /// The transform's other keys, for `sluice_configure`.
    config_json: Vec<u8>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fuel: DEFAULT_FUEL,
            max_exhausted: DEFAULT_FUEL_MAX_EXHAUSTED,
            memory_max: DEFAULT_MEMORY_MAX,
            config_json: b"{}".to_vec(),
        }
    }
}

/// Which entry point the module exports.
#[derive(Clone, Copy)]
enum Entry {
    Record(TypedFunc<(i32, i32), i64>),
    Value(TypedFunc<(i32, i32), i64>),
}

/// A live instance of the module, owned by one transform of one task.
struct Live {
    store: Store<StoreLimits>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    entry: Entry,
}

impl Live {
    /// Copies `input` into the module, calls `func`, copies the result out.
    /// `Ok(None)`: the module returned 0 (drop the record).
    fn call(
        &mut self,
        func: TypedFunc<(i32, i32), i64>,
        input: &[u8],
        fuel: u64,
    ) -> Result<Option<Vec<u8>>, CallError> {
        self.store
            .set_fuel(fuel)
            .map_err(|e| CallError::Trap(e.to_string()))?;
        let len = i32::try_from(input.len())
            .map_err(|_| CallError::Abi(format!("input of {} bytes is too large", input.len())))?;
        let ptr = self.write(input, len, fuel)?;
        let r = func
            .call(&mut self.store, (ptr, len))
            .map_err(|e| CallError::from_wasm(e, fuel))?;
        match r {
            0 => Ok(None),
            -1 => Err(CallError::Reported("reported an error".into())),
            r if r < 0 => {
                let msg = self.read(r.wrapping_neg())?;
                let msg: String = String::from_utf8_lossy(&msg).chars().take(2000).collect();
                Err(CallError::Reported(format!("reported an error: {msg}")))
            }
            r => self.read(r).map(Some),
        }
    }

    /// `sluice_alloc(len)`, then the bytes copied to the returned address.
    fn write(&mut self, input: &[u8], len: i32, fuel: u64) -> Result<i32, CallError> {
        let ptr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|e| CallError::from_wasm(e, fuel))?;
        let size = self.memory.data_size(&self.store);
        self.memory
            .write(&mut self.store, ptr as u32 as usize, input)
            .map_err(|_| {
                CallError::Abi(format!(
                    "sluice_alloc({len}) returned {ptr}, which is outside its {size}-byte memory"
                ))
            })?;
        Ok(ptr)
    }

    /// The bytes at `(ptr << 32) | len`.
    fn read(&self, packed: i64) -> Result<Vec<u8>, CallError> {
        let (ptr, len) = ((packed as u64 >> 32) as usize, packed as u32 as usize);
        let data = self.memory.data(&self.store);
        data.get(ptr..ptr.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                CallError::Abi(format!(
                    "returned ptr {ptr}, len {len}, outside its {}-byte memory",
                    data.len()
                ))
            })
    }
}

/// A transform backed by a plug-in module (see the module docs).
pub struct WasmTransform {
    plugin: std::sync::Arc<WasmPlugin>,
    settings: Settings,
    /// `None` before `configure` and after a trap: the next record
    /// instantiates the module afresh.
    live: Mutex<Option<Live>>,
    /// Records in a row that ran out of fuel.
    exhausted: std::sync::atomic::AtomicU64,
}

impl WasmTransform {
    pub fn new(plugin: std::sync::Arc<WasmPlugin>) -> WasmTransform {
        WasmTransform {
            plugin,
            settings: Settings::default(),
            exhausted: std::sync::atomic::AtomicU64::new(0),
            live: Mutex::new(None),
        }
    }

    /// A fresh store and instance, checked against the ABI and configured.
    fn instantiate(&self) -> Result<Live, String> {
        let module = self.plugin.module.as_ref().map_err(Clone::clone)?;
        let s = &self.settings;
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(s.memory_max).unwrap_or(usize::MAX))
            .instances(1)
            .memories(1)
            .tables(1)
            .table_elements(1_000_000)
            .build();
        let mut store = Store::new(module.engine(), limits);
        store.limiter(|l| l);
        let fuel = |store: &mut Store<StoreLimits>| {
            store
                .set_fuel(s.fuel)
                .map_err(|e| format!("cannot set fuel: {e}"))
        };
        fuel(&mut store)?;
        let instance = Linker::new(module.engine())
            .instantiate_and_start(&mut store, module)
            .map_err(|e| {
                format!(
                    "cannot be instantiated: {}",
                    CallError::from_wasm(e, s.fuel)
                )
            })?;
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or("does not export its linear memory as \"memory\"")?;
        let version = typed::<(), i32>(&instance, &store, "sluice_abi_version", "() -> i32")?
            .ok_or("does not export sluice_abi_version() -> i32; it is not a Sluice plug-in")?;
        fuel(&mut store)?;
        let v = version
            .call(&mut store, ())
            .map_err(|e| format!("sluice_abi_version {}", CallError::from_wasm(e, s.fuel)))?;
        if v != ABI_VERSION {
            return Err(format!(
                "speaks plug-in ABI version {v}; this Sluice speaks version {ABI_VERSION}: rebuild the plug-in against docs/plugins.md"
            ));
        }
        let alloc = typed::<i32, i32>(&instance, &store, "sluice_alloc", "(i32) -> i32")?
            .ok_or("does not export sluice_alloc(len: i32) -> i32")?;
        let sig = "(i32, i32) -> i64";
        let entry = match typed(&instance, &store, "sluice_transform", sig)? {
            Some(f) => Entry::Record(f),
            None => Entry::Value(typed(&instance, &store, "sluice_transform_value", sig)?.ok_or(
                "exports neither sluice_transform(ptr, len) -> i64 nor sluice_transform_value(ptr, len) -> i64",
            )?),
        };
        let mut live = Live {
            store,
            memory,
            alloc,
            entry,
        };
        let configure = typed::<(i32, i32), i32>(
            &instance,
            &live.store,
            "sluice_configure",
            "(i32, i32) -> i32",
        )?;
        if let Some(configure) = configure {
            fuel(&mut live.store)?;
            let len = i32::try_from(s.config_json.len()).map_err(|_| "config is too large")?;
            let ptr = live
                .write(&s.config_json, len, s.fuel)
                .map_err(|e| format!("sluice_configure {e}"))?;
            let code = configure
                .call(&mut live.store, (ptr, len))
                .map_err(|e| format!("sluice_configure {}", CallError::from_wasm(e, s.fuel)))?;
            if code != 0 {
                return Err(format!(
                    "rejected its config {} (sluice_configure returned {code}); see the plug-in's documentation for its keys",
                    String::from_utf8_lossy(&s.config_json)
                ));
            }
        }
        Ok(live)
    }

    fn run(&self, live: &mut Live, record: RecordData) -> Result<Option<RecordData>, CallError> {
        let fuel = self.settings.fuel;
        match live.entry {
            Entry::Record(f) => {
                let input = serde_json::to_vec(&record_to_json(&record))
                    .map_err(|e| CallError::Abi(format!("cannot encode the record: {e}")))?;
                let Some(out) = live.call(f, &input, fuel)? else {
                    return Ok(None);
                };
                let json = serde_json::from_slice(&out).map_err(|e| {
                    CallError::Abi(format!("returned a record that is not JSON ({e})"))
                })?;
                record_from_json(record, json)
                    .map(Some)
                    .map_err(CallError::Reported)
            }
            Entry::Value(f) => {
                let mut record = record;
                let out = match &record.value {
                    Value::Null => return Ok(Some(record)),
                    Value::String(s) => live.call(f, s.as_bytes(), fuel)?,
                    Value::Bytes(b) => live.call(f, b, fuel)?,
                    other => {
                        return Err(CallError::Reported(format!(
                            "exports only sluice_transform_value, which takes string or bytes values, but the value is a {}; use value.converter=org.apache.kafka.connect.storage.StringConverter or export sluice_transform",
                            other.type_name()
                        )))
                    }
                };
                let Some(out) = out else { return Ok(None) };
                record.value = match record.value {
                    Value::Bytes(_) => Value::Bytes(out),
                    _ => Value::String(
                        String::from_utf8(out)
                            .map_err(|_| {
                                CallError::Abi("returned a string value that is not UTF-8".into())
                            })?
                            .into(),
                    ),
                };
                Ok(Some(record))
            }
        }
    }
}

/// An optional typed export; `Err` when it exists with the wrong type.
fn typed<P: wasmi::WasmParams, R: wasmi::WasmResults>(
    instance: &Instance,
    store: &Store<StoreLimits>,
    name: &str,
    sig: &str,
) -> Result<Option<TypedFunc<P, R>>, String> {
    if instance.get_func(store, name).is_none() {
        return Ok(None);
    }
    instance
        .get_typed_func::<P, R>(store, name)
        .map(Some)
        .map_err(|e| {
            format!("exports {name} with the wrong type ({e}); ABI version 1 wants {name}{sig}")
        })
}

impl Transform for WasmTransform {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                FUEL,
                ConfigType::Long,
                Some(&DEFAULT_FUEL.to_string()),
                Importance::Low,
                "Fuel the plug-in may burn on one record (about one unit per WebAssembly instruction). A record that needs more fails with an out-of-fuel error: this is what stops a plug-in that loops.",
            )
            .validate(Validator::Range {
                min: Some(1.0),
                max: None,
            })
            .define(
                FUEL_MAX_EXHAUSTED,
                ConfigType::Long,
                Some(&DEFAULT_FUEL_MAX_EXHAUSTED.to_string()),
                Importance::Low,
                "After this many records in a row ran out of fuel, the task fails, even with errors.tolerance=all: a plug-in that loops on every record would otherwise burn its whole fuel budget on each one. 0: never (each such record is handled by errors.tolerance).",
            )
            .validate(Validator::Range {
                min: Some(0.0),
                max: None,
            })
            .define(
                MEMORY_MAX,
                ConfigType::Long,
                Some(&DEFAULT_MEMORY_MAX.to_string()),
                Importance::Low,
                "Largest linear memory, in bytes, the plug-in instance may grow to; memory.grow beyond it fails.",
            )
            .validate(Validator::Range {
                min: Some(65536.0),
                max: Some(2147483648.0),
            })
    }

    /// Instantiates the module for this task and hands it the transform's
    /// other keys: an unusable module fails here, so the task never starts.
    fn configure(&mut self, props: &Props) -> Result<(), ConfigError> {
        let cfg = self.config_def().parse(props)?;
        let own: serde_json::Map<String, serde_json::Value> = props
            .iter()
            .filter(|(k, _)| ![FUEL, FUEL_MAX_EXHAUSTED, MEMORY_MAX].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        self.settings = Settings {
            fuel: u64::try_from(cfg.i64(FUEL)?).unwrap_or(DEFAULT_FUEL),
            max_exhausted: u64::try_from(cfg.i64(FUEL_MAX_EXHAUSTED)?)
                .unwrap_or(DEFAULT_FUEL_MAX_EXHAUSTED),
            memory_max: u64::try_from(cfg.i64(MEMORY_MAX)?).unwrap_or(DEFAULT_MEMORY_MAX),
            config_json: serde_json::to_vec(&own).unwrap_or_else(|_| b"{}".to_vec()),
        };
        let live = self
            .instantiate()
            .map_err(|e| ConfigError::one(format!("{} {e}", self.plugin.who())))?;
        *self.live.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(live);
        Ok(())
    }

    fn apply(&self, record: RecordData) -> Result<Option<RecordData>, RecordError> {
        let who = || self.plugin.who();
        let topic = record.topic.clone();
        let mut slot = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut live = match slot.take() {
            Some(live) => live,
            None => self
                .instantiate()
                .map_err(|e| RecordError::new(format!("{} {e}", who())))?,
        };
        let result = catch_unwind(AssertUnwindSafe(|| self.run(&mut live, record)));
        let out_of_fuel = matches!(result, Ok(Err(CallError::OutOfFuel(_))));
        let in_a_row = if out_of_fuel {
            self.exhausted.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.exhausted.store(0, Ordering::Relaxed);
            0
        };
        let max = self.settings.max_exhausted;
        if out_of_fuel && max > 0 && in_a_row >= max {
            return Err(RecordError::fatal(format!(
                "{} ran out of fuel ({} units) on {in_a_row} records in a row, the last of topic {topic}; \
                 the task stops rather than burn the budget on every record ({FUEL_MAX_EXHAUSTED}={max}): \
                 fix the plug-in's loop, or raise transforms.<name>.fuel if records really need more",
                who(),
                self.settings.fuel
            )));
        }
        match result {
            Ok(Ok(out)) => {
                *slot = Some(live);
                Ok(out)
            }
            Ok(Err(e)) => {
                // A reported error leaves the instance sound; anything else
                // may have left its memory half-written.
                if matches!(e, CallError::Reported(_)) {
                    *slot = Some(live);
                }
                Err(RecordError::new(format!(
                    "{} {e} on a record of topic {topic}; {}",
                    who(),
                    e.remedy()
                )))
            }
            Err(_) => Err(RecordError::new(format!(
                "{} made the WebAssembly runtime panic on a record of topic {topic}; the instance was discarded",
                who()
            ))),
        }
    }
}
