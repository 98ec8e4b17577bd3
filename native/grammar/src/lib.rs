//! Links llguidance's C interface (its `#[no_mangle]` functions, declared in its llguidance.h) into one
//! static library for the addon. Nothing of our own: the engine is the library's.
pub use llguidance;
