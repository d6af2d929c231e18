// Build script: napi-rs linker setup for the Node-API addon.
fn main() {
    napi_build::setup();
}
