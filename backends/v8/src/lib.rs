//! Real V8 isolates inside the unitlab process, through Debian's libnode and a small C++ shim.
