//! Compiles the .proto files with protox (no `protoc` needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/frostzone/v1/common.proto",
        "proto/frostzone/v1/signer.proto",
        "proto/frostzone/v1/coordinator.proto",
        "proto/frostzone/v1/admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        // Registries keep a signer's change counts as they came (serde, JSON).
        // A signing item's octets are shared with the buffer they arrived
        // in, and with the RRset parsed from them, rather than copied
        // field by field (a whole zone's items are held at once).
        .bytes(".frostzone.v1.SigningItem")
        .bytes(".frostzone.v1.RrsigFields")
        .type_attribute("frostzone.v1.ChangeSummary", "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]")
        .compile_fds(fds)?;
    Ok(())
}
