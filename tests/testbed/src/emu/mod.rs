//! The link emulator: impairs packets between two devices in one mio loop.

pub mod change;
pub mod engine;
pub mod impair;
pub mod link;
pub mod player;
pub mod ring;
pub mod rng;
pub mod services;
