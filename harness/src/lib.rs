//! The unitlab harness: drives workloads against backends and records what it measures.
//!
//! The pipeline follows the module list: [`registry`] picks a backend, [`measure`] runs cold
//! starts, warm invokes and memory readings against it, [`overhead`] measures the harness's
//! own cost, [`env`] records the machine, [`output`] writes the raw samples and the summary.
//! [`burst`] releases N cold starts at once and times until all answered; [`density`] counts
//! the units that fit under a memory limit the kernel enforces, in a [`cgroup`].
//! Replay and simulation live in `unitlab-platform`, workloads in `unitlab-workloads`, the
//! report in `unitlab-reports`; the `unitlab` binary ties them together.

#![warn(missing_docs)]

pub mod burst;
pub mod cgroup;
pub mod density;
pub mod env;
pub mod exit;
pub mod measure;
pub mod output;
pub mod overhead;
pub mod registry;

pub use registry::BackendKind;
