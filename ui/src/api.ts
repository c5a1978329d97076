// The app's commands and its one event, typed. Every call goes through Tauri's IPC to the Rust shell.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

// The types crossing the IPC boundary are generated from the Rust types (ui/src/bindings, written by
// `cargo test -p kogi-core bindings` and `-p kogi-desktop`; CI fails when they are out of date).
import type { AnswerWith } from "./bindings/AnswerWith";
import type { ModelEntry } from "./bindings/ModelEntry";
import type { Target } from "./bindings/Target";
import type { AppStatus } from "./bindings/AppStatus";
import type { Asked } from "./bindings/Asked";
import type { CharSpan } from "./bindings/CharSpan";
import type { Draft } from "./bindings/Draft";
import type { TermSuggestion } from "./bindings/TermSuggestion";
import type { Lecture } from "./bindings/Lecture";
import type { LectureMeta } from "./bindings/LectureMeta";
import type { LectureView } from "./bindings/LectureView";
import type { Occurrence } from "./bindings/Occurrence";
import type { Revision } from "./bindings/Revision";
import type { Rung } from "./bindings/Rung";
import type { Scan } from "./bindings/Scan";
import type { ServerReport } from "./bindings/ServerReport";
import type { ServerSettings } from "./bindings/ServerSettings";
import type { Settings } from "./bindings/Settings";
import type { Suggestion } from "./bindings/Suggestion";
import type { Term } from "./bindings/Term";
import type { ImportStarted } from "./bindings/desktop/ImportStarted";
import type { JobEvent } from "./bindings/desktop/JobEvent";
import type { SavedView } from "./bindings/desktop/SavedView";
import type { MediaInfo } from "./bindings/desktop/MediaInfo";
import type { Recording } from "./bindings/Recording";
export type { Answer } from "./bindings/Answer";
export type { Engine } from "./bindings/Engine";
export type { ServerReport, ServerSettings };
export type { ModelEntry } from "./bindings/ModelEntry";
export type { Target } from "./bindings/Target";
export type { AnswerWith } from "./bindings/AnswerWith";
export type { LanguageFit } from "./bindings/LanguageFit";
export type { QuoteReason } from "./bindings/QuoteReason";
export type { Citation } from "./bindings/Citation";
export type { InstalledModel } from "./bindings/InstalledModel";
export type { Passage } from "./bindings/Passage";
export type { Provider } from "./bindings/Provider";
export type { ProviderReport } from "./bindings/ProviderReport";
export type { RevisionSummary } from "./bindings/RevisionSummary";
export type { Segment } from "./bindings/Segment";
export type { SuspiciousSpan } from "./bindings/SuspiciousSpan";
export type {
  AppStatus, Asked, Draft, ImportStarted, JobEvent, Lecture, LectureView, MediaInfo, Occurrence, Recording, Revision, Rung, Scan,
  Settings, Suggestion, Term,
};
export type Span = CharSpan;
export type Meta = LectureMeta;
export type Saved = SavedView;

export const RUNGS: { id: Rung; label: string; hint: string }[] = [
  { id: "none", label: "No context", hint: "the model alone (baseline)" },
  { id: "raw", label: "Raw transcript", hint: "sentences of the transcript as recognised" },
  { id: "corrected", label: "Corrected", hint: "sentences of the newest revision" },
  { id: "windows", label: "Sentence windows", hint: "matched sentences with their neighbours (default)" },
  { id: "reranked", label: "Reranked", hint: "windows reranked by the model's yes/no judgement" },
  { id: "chunks", label: "Paragraphs", hint: "paragraph chunks with lecture metadata" },
];

/** Errors from commands carry the core's message, which says what to do. */
export function message(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as { message: unknown }).message);
  return String(e);
}

export const api = {
  status: () => invoke<AppStatus>("app_status"),
  saveSettings: (settings: Settings) => invoke<AppStatus>("save_settings", { settings }),
  ready: () => invoke<number>("ui_ready"),
  lectures: () => invoke<Lecture[]>("list_lectures"),
  importPaths: (paths: string[]) => invoke<ImportStarted[]>("import_paths", { paths }),
  importBytes: (name: string, bytes: Uint8Array) =>
    invoke<ImportStarted>("import_bytes", bytes, { headers: { "x-file-name": encodeURIComponent(name) } }),
  openLecture: (lecture: number) => invoke<LectureView>("open_lecture", { lecture }),
  revision: (revision: number) => invoke<Revision>("revision", { revision }),
  save: (lecture: number, parent: number, text: string, message: string | null) =>
    invoke<Saved>("save_revision", { lecture, parent, text, message }),
  restore: (lecture: number, revision: number) => invoke<Saved>("restore_revision", { lecture, revision }),
  putDraft: (lecture: number, parent: number, text: string) => invoke<Draft>("put_draft", { lecture, parent, text }),
  discardDraft: (lecture: number) => invoke<void>("discard_draft", { lecture }),
  terms: (course: string | null) => invoke<Term[]>("glossary_terms", { course }),
  addTerm: (term: string, variants: string[], course: string) => invoke<Term>("glossary_add", { term, variants, course }),
  glossaryPreview: (revision: number) => invoke<Occurrence[]>("glossary_preview", { revision }),
  glossarySuggestions: (lecture: number) => invoke<TermSuggestion[]>("glossary_suggestions", { lecture }),
  glossaryApply: (lecture: number, parent: number, occurrences: Occurrence[]) =>
    invoke<Saved>("glossary_apply", { lecture, parent, occurrences }),
  scan: (revision: number) => invoke<number>("scan_suspicious", { revision }),
  suggest: (revision: number, start: number, end: number) => invoke<Suggestion[]>("suggest", { revision, start, end }),
  accept: (lecture: number, parent: number, suggestion: Suggestion) =>
    invoke<Saved>("accept_suggestion", { lecture, parent, suggestion }),
  ask: (question: string, modes: Rung[], think: boolean, answer_with: AnswerWith | null) =>
    invoke<number>("ask", { request: { question, modes, think, answer_with } }),
  cancel: (job: number) => invoke<boolean>("cancel_job", { job }),
  listModels: () => invoke<ModelEntry[]>("list_models"),
  addModel: (source: string, name: string | null, target: Target | null) => invoke<number>("add_model", { request: { source, name, target } }),
  useChatModel: (name: string) => invoke<AppStatus>("use_chat_model", { name }),
  removeModel: (name: string) => invoke<ModelEntry[]>("remove_model", { name }),
  testServer: (server: ServerSettings, key: string | null) => invoke<ServerReport>("test_server", { server, key }),
  setServerKey: (key: string | null) => invoke<AppStatus>("set_server_key", { key }),
  mediaInfo: () => invoke<MediaInfo>("media_info"),
  recording: (lecture: number) => invoke<Recording | null>("recording", { lecture }),
  linkRecording: (lecture: number, path: string) => invoke<Recording>("link_recording", { lecture, path }),
};

type Handler = (e: JobEvent) => void;
const handlers = new Map<number, Handler>();
const early = new Map<number, JobEvent[]>();
let unlisten: UnlistenFn | null = null;

/** Start listening to job events (once, at start-up). */
export async function listenToJobs(): Promise<void> {
  if (unlisten) return;
  unlisten = await listen<JobEvent>("job", (e) => dispatch(e.payload));
}

export function dispatch(e: JobEvent): void {
  const h = handlers.get(e.job);
  if (h) h(e);
  else early.set(e.job, [...(early.get(e.job) ?? []), e]); // a fast job may report before its handler is set
  if (e.type === "done" || e.type === "failed" || e.type === "cancelled") {
    if (h) handlers.delete(e.job);
  }
}

/** Follow one job's events; events that arrived before this call are replayed first. */
export function follow(job: number, handler: Handler): void {
  handlers.set(job, handler);
  const queued = early.get(job) ?? [];
  early.delete(job);
  for (const e of queued) dispatch(e);
}

/** A job's end as a promise (its progress and text still go to `onEvent`). */
export function finished<T>(job: number, onEvent: Handler = () => {}): Promise<T> {
  return new Promise((resolve, reject) => {
    follow(job, (e) => {
      onEvent(e);
      if (e.type === "done") resolve(e.result as T);
      else if (e.type === "failed") reject(new Error(e.message));
      else if (e.type === "cancelled") reject(new Error("cancelled"));
    });
  });
}
