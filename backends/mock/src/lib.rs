//! A backend with scripted latencies, for testing the harness without real engines.
