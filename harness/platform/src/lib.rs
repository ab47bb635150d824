//! Platform policies, replay and simulation.
