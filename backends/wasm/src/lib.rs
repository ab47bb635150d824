//! WebAssembly instances on wasmtime: one shared Engine, a Store and instance per unit.
