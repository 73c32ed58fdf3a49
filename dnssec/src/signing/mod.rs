//! Signing: every RRSIG a zone version needs, planned as one batch.
//!
//! * [`rrsig`]: the RRSIG fields (RFC 4034 §3.1) and the octets each
//!   signature covers (§3.1.8.1), shared by the coordinator's plan and the
//!   signers' own rebuild of what they sign;
//! * [`refresh`]: which existing signatures a new version keeps and when
//!   each is re-signed (the RRSIG refresh schedule);
//! * [`plan`]: the plan for a whole zone, or for a zone patch, and its
//!   completion with the signatures a threshold backend returns;
//! * [`incremental`]: the plan of the next version from the unsigned
//!   records that changed, looking only at the names a change reaches;
//!   `chain_patch` puts its NSEC or NSEC3 chain right where it reaches.

mod chain_patch;
pub mod incremental;
pub mod plan;
pub mod refresh;
pub mod rrsig;

pub use plan::{
    read_zone, PlanZone, SharedZone, CompletedPlan, SigningError, SigningItem, SigningPlan, SigningPolicy,
    DEFAULT_DNSKEY_TTL_SECS, DEFAULT_INCEPTION_OFFSET_SECS, DEFAULT_VALIDITY_SECS,
};
pub use rrsig::{signed_data, RrsigFields};
