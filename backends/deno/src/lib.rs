//! Real V8 through Deno: a long-lived Deno host process, a unit is a Worker.
