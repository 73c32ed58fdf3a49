//! The workspace's layout rule (docs/architecture.md): inside each crate,
//! dependencies between files point one way; the only file every module
//! may use and that may use them back is the crate's error type.

use std::path::Path;

use frostzone_tests::module_graph::{cycles, module_graph};

#[test]
fn no_crate_has_an_import_cycle_between_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in ["proto", "threshold", "dnssec", "signer-node", "coordinator", "cli", "tests"] {
        let graph = module_graph(&root.join(krate)).unwrap_or_else(|e| panic!("{krate}: {e}"));
        assert!(graph.len() > 3, "{krate}: only {} modules found", graph.len());
        for cycle in cycles(&graph) {
            found.push(format!("{krate}: {}", cycle.join(" → ")));
        }
    }
    assert!(found.is_empty(), "import cycles between files:\n{}", found.join("\n"));
}
