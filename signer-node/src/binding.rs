//! What binds a Commit to an approved request: the approval window, and
//! the approved requests' digest sets that Commits are checked against,
//! kept in memory. The node holds the cache; the request life cycle
//! (`lifecycle`) fills it on approval and empties it when a request
//! leaves the approved states.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How long an approval lets Commits in: 24 hours. Signing a large zone
/// takes minutes; a day covers retries and a coordinator restart, while an
/// approval cannot be used for content signed days later, when the zone
/// may have moved on.
pub const APPROVAL_WINDOW_SECS: u64 = 24 * 3600;

/// An approved request as Commits see it, kept in memory so a zone signed
/// in many batches does not re-read its digests for each.
pub(crate) struct ApprovedRequest {
    /// The zone it signs.
    pub(crate) zone: String,
    /// When this signer approved it (Unix seconds): Commits are let in
    /// for [`APPROVAL_WINDOW_SECS`] from then.
    pub(crate) approved_unix: u64,
    /// The digests of the items a Commit under it may contain.
    pub(crate) digests: HashSet<[u8; 32]>,
}

/// The approved requests' digest sets by request id.
pub(crate) type ApprovedCache = HashMap<String, Arc<ApprovedRequest>>;
