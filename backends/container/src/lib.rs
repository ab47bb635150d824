//! Docker containers through bollard: a unit is a container, images built locally.
