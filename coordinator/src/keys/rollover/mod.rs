//! Key rollovers (RFC 7583, RFC 6781 §4.1): the intervals they wait
//! ([`timing`]), their phases as a state machine ([`phases`]), and the
//! property every phase must keep, that every view a validating resolver
//! can hold validates ([`views`]). All of it is plain logic; the
//! coordinator persists a rollover's phase and publishes what
//! [`phases::Rollover::key_set`] says.

pub mod key_use;
pub mod lifetime;
pub mod phases;
pub mod timing;
pub mod views;
