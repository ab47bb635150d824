//! unitlab harness library.
