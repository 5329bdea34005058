//! slotnet-demo: placeholder until the core demo lands.
fn main() {}
