//! The Miro emulator.
