//! slotnet-net: sockets on the slotnet event loop.
