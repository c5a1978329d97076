// tauri.conf.json sits at the repository root (beside Cargo.toml of the workspace). Every command
// is listed in the app manifest, so each needs a permission that a capability grants explicitly.
fn main() {
    let manifest = tauri_build::AppManifest::new().commands(kogi_commands());
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .config_path("../tauri.conf.json")
            .app_manifest(manifest),
    )
    .expect("tauri build script");
}

fn kogi_commands() -> &'static [&'static str] {
    &[
        "app_status",
        "save_settings",
        "ui_ready",
        "list_lectures",
        "import_paths",
        "import_bytes",
        "open_lecture",
        "revision",
        "save_revision",
        "restore_revision",
        "put_draft",
        "discard_draft",
        "glossary_terms",
        "glossary_add",
        "glossary_preview",
        "glossary_suggestions",
        "glossary_apply",
        "scan_suspicious",
        "suggest",
        "accept_suggestion",
        "ask",
        "list_models",
        "add_model",
        "use_chat_model",
        "remove_model",
        "cancel_job",
        "test_server",
        "set_server_key",
        "media_info",
        "recording",
        "link_recording",
    ]
}
