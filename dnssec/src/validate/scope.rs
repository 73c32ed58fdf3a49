//! The names a zone patch can affect, which the patch validation
//! ([`super::patch`]) checks instead of the whole zone.

use std::collections::BTreeSet;
use std::ops::Bound;

use domain::base::iana::Rtype;
use domain::base::ToName;

use crate::name::{ancestors_below, CanonicalName};
use crate::zone::Node;
use crate::zone_patch::ZoneView;

/// The names a patch can affect.
pub(super) struct Scope {
    /// Every name to check, in canonical order.
    pub names: BTreeSet<CanonicalName>,
    /// Whether the patch changes something global: then `names` is every
    /// name of the next version and of the patch.
    pub whole: bool,
}

impl Scope {
    /// RFC 4035 §2.2 decides a name's role from its ancestors' zone cuts,
    /// and RFC 5155 §7.1 an empty non-terminal's existence from its
    /// descendants: the names of the patch, every name below one that
    /// gains or loses NS or DNAME, and their ancestors below the apex.
    pub(super) fn of(view: &ZoneView<'_>) -> Scope {
        let apex = view.apex();
        let mut names = BTreeSet::new();
        for (name, new) in view.patch().iter() {
            names.insert(name.clone());
            if name.0.name_cmp(apex).is_eq() || cut_types(view.base().node(&name.0)) == cut_types(new) {
                continue;
            }
            names.extend(view.descendants(name).map(|(k, _)| k.clone()));
            let below = (Bound::Excluded(name), Bound::Unbounded);
            names.extend(view.base().nodes_range(below).take_while(|(k, _)| k.0.ends_with(&name.0)).map(|(k, _)| k.clone()));
        }
        Scope { names: with_ancestors(names, apex), whole: false }
    }

    /// Every name of the next version, of the patch, and every empty
    /// non-terminal.
    pub(super) fn whole(view: &ZoneView<'_>) -> Scope {
        let mut names: BTreeSet<CanonicalName> = view.iter().map(|(k, _)| k.clone()).collect();
        names.extend(view.patch().iter().map(|(k, _)| k.clone()));
        Scope { names: with_ancestors(names, view.apex()), whole: true }
    }
}

fn with_ancestors(mut names: BTreeSet<CanonicalName>, apex: &crate::StoredName) -> BTreeSet<CanonicalName> {
    let ancestors: Vec<CanonicalName> =
        names.iter().flat_map(|n| ancestors_below(&n.0, apex)).map(CanonicalName).collect();
    names.extend(ancestors);
    names
}

/// Which of NS and DNAME a name has: what makes it a zone cut.
fn cut_types(node: Option<&Node>) -> (bool, bool) {
    node.map_or((false, false), |n| (n.get(Rtype::NS).is_some(), n.get(Rtype::DNAME).is_some()))
}
