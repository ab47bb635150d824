//! The bare-process baseline: a unit is a fork+exec of the static native catalogue runner.
