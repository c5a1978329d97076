//! kogi's desktop app: a window over kogi-core. Commands and events only; every domain rule lives
//! in the core library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[cfg(test)]
mod bindings;
mod commands;
mod jobs;
mod media;
mod state;

use tauri::utils::config::{Csp, CspDirectiveSources};

fn main() {
    let launched = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KOGI_LOG")
                .unwrap_or_else(|_| "info,ort=warn,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let state = state::AppState::new(launched);
    let mut context = tauri::generate_context!("../tauri.conf.json");
    // Media may come from the app's own player server only (its port is chosen at start).
    if let (Ok(media), Some(Csp::DirectiveMap(csp))) = (&state.media, context.config_mut().app.security.csp.as_mut()) {
        csp.insert("media-src".into(), CspDirectiveSources::List(vec![media.origin.clone()]));
    }
    tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::save_settings,
            commands::ui_ready,
            commands::list_lectures,
            commands::import_paths,
            commands::import_bytes,
            commands::open_lecture,
            commands::revision,
            commands::save_revision,
            commands::restore_revision,
            commands::put_draft,
            commands::discard_draft,
            commands::glossary_terms,
            commands::glossary_add,
            commands::glossary_preview,
            commands::glossary_suggestions,
            commands::glossary_apply,
            commands::scan_suspicious,
            commands::suggest,
            commands::accept_suggestion,
            commands::ask,
            commands::cancel_job,
            commands::list_models,
            commands::add_model,
            commands::use_chat_model,
            commands::remove_model,
            commands::test_server,
            commands::set_server_key,
            commands::media_info,
            commands::recording,
            commands::link_recording,
        ])
        .run(context)
        .expect("kogi's window could not start (is WebKitGTK 4.1 installed? see README)");
}
